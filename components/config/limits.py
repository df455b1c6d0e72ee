"""What Databricks allows, and the names this program's stack files use: limits, patterns, naming rules.

Plain values and small functions without pydantic, so that the policy pack, the review and the plugin can
share them with the config models.
"""

from __future__ import annotations

import re
from enum import StrEnum

PROJECT = "databricks-serving"
"""The Pulumi project name, and so the namespace of this program's stack config keys."""

# Limits Databricks enforces (see ../shared/notes/databricks-serving.md and the serving API docs).
MAX_ENDPOINT_NAME_LENGTH = 63
MAX_SERVED_ENTITIES = 15
MAX_ENVIRONMENT_VARS = 30
MAX_REQUEST_BYTES = 16 * 1024 * 1024
RESERVED_ENDPOINT_PREFIX = "databricks-"
INPUT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")

# Serving endpoint tags propagate to billing (usage) records. Neither the serving API reference nor the SDKs'
# `EndpointTag` state a length limit; 255 characters for a key and for a value (the Unity Catalog object-name
# limit) is an assumption, not checked against the API: revisit when Databricks documents its own limit.
MAX_TAG_KEY_LENGTH = 255
MAX_TAG_VALUE_LENGTH = 255
# Unity Catalog object names (catalog, schema, table): "Object names cannot exceed 255 characters", and no
# period, space, forward slash, ASCII control character or DELETE (Databricks SQL reference, "Names").
MAX_UNITY_CATALOG_NAME_LENGTH = 255
UNITY_CATALOG_FORBIDDEN = re.compile(r"[.\s/\x00-\x1f\x7f]")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
# A POSIX shell environment variable name: the serving container's process environment takes no other.
ENVIRONMENT_VAR_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
# A legacy workspace Model Registry name (`RiskClassifier`, `iris-classifier`): one part, no dots. Databricks still
# serves such models; the `unity-catalog-models` policy rule recommends moving them to Unity Catalog.
REGISTRY_MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SECRET_REFERENCE_PATTERN = re.compile(r"^\{\{secrets/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\}\}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Names that say "this value is a credential": such a variable may only hold a secret reference.
SECRET_NAME_PATTERN = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIAL|API_?KEY|PRIVATE_KEY|ACCESS_KEY)", re.I)
# A Databricks personal access token, wherever it appears, is never a configuration value.
TOKEN_VALUE_PATTERN = re.compile(r"dapi[0-9a-f]{32}")
# Principals that would open an endpoint to everybody.
BROAD_PRINCIPALS = frozenset({"users", "account users", "admins"})


class WorkloadSize(StrEnum):
    SMALL = "Small"
    MEDIUM = "Medium"
    LARGE = "Large"


class WorkloadType(StrEnum):
    """The compute types of databricks-sdk's `ServingModelWorkloadType` (service/serving.py)."""

    CPU = "CPU"
    CPU_MEDIUM = "CPU_MEDIUM"
    CPU_LARGE = "CPU_LARGE"
    GPU_SMALL = "GPU_SMALL"
    GPU_MEDIUM = "GPU_MEDIUM"
    GPU_LARGE = "GPU_LARGE"
    GPU_XLARGE = "GPU_XLARGE"
    GPU_XLARGE_8 = "GPU_XLARGE_8"
    MULTIGPU_MEDIUM = "MULTIGPU_MEDIUM"


# Databricks waits this long for a served entity to deploy before it gives up (its own timeouts);
# readiness waits a little longer so that Databricks' verdict, not ours, ends a slow deployment.
# Databricks docs, "Debug model serving timeouts": "up to 30 minutes for CPU workloads, 60 minutes for GPU
# small or medium workloads, and 120 minutes for GPU large workloads". The docs name no figure for the newer
# types: every CPU size is a CPU workload (30); GPU sizes above large and multi-GPU get the largest
# documented wait (120), never less than a smaller GPU gets.
DEPLOYMENT_TIMEOUT_MINUTES: dict[WorkloadType, int] = {
    WorkloadType.CPU: 30,
    WorkloadType.CPU_MEDIUM: 30,
    WorkloadType.CPU_LARGE: 30,
    WorkloadType.GPU_SMALL: 60,
    WorkloadType.GPU_MEDIUM: 60,
    WorkloadType.GPU_LARGE: 120,
    WorkloadType.GPU_XLARGE: 120,
    WorkloadType.GPU_XLARGE_8: 120,
    WorkloadType.MULTIGPU_MEDIUM: 120,
}
READINESS_MARGIN_MINUTES = 5


# A model alias (MLflow's rule, mlflow/utils/validation.py): letters, digits, `_` and `-`, at most 255
# characters, neither `latest` nor `v<number>` (both reserved). A Unity Catalog alias, or for a workspace
# Model Registry model its stage (`@Production`, `@Staging`).
MODEL_ALIAS_PATTERN = re.compile(r"^@[A-Za-z0-9_-]{1,255}$")
RESERVED_ALIAS_PATTERN = re.compile(r"^@(latest|[vV]\d+)$", re.IGNORECASE)


def is_alias(version: str) -> bool:
    """Whether a declared version is an alias (`@champion`), resolved to a number when the program runs."""
    return version.startswith("@")


def version_label(version: str) -> str:
    """The version as a served entity name takes it: `4`, or an alias without its `@` (`champion`).

    A served entity declared by alias keeps its name when the alias moves (`risk_classifier-champion`):
    the endpoint then updates that entity's version in place instead of replacing one entity by another.
    """
    return version[1:] if is_alias(version) else version


def default_served_entity_name(model: str, version: str) -> str:
    """The name Databricks gives a served entity declared without one: the model's last dotted part and its
    version (`main.credit.risk_classifier` v4 -> `risk_classifier-4`); an alias keeps its label (`-champion`)."""
    return f"{model.rsplit('.', 1)[-1]}-{version_label(str(version))}"


def is_plaintext_credential(name: str, value: str) -> bool:
    """Whether a value held under `name` (an environment variable, a tag) is a credential in plain text: a
    Databricks token, or anything under a secret-like name, unless it is a `{{secrets/<scope>/<key>}}` reference."""
    return bool(SECRET_NAME_PATTERN.search(name) or TOKEN_VALUE_PATTERN.search(value)) and not (
        SECRET_REFERENCE_PATTERN.match(value)
    )


# The Terraform provider refuses any grant to `admins` on a serving endpoint ("it is not possible to modify
# admin permissions"); workspace admins manage every endpoint anyway.
ADMINS_GROUP = "admins"


# Groups that hold every user: a `user_group` limit on them is an endpoint-wide limit in disguise.
ALL_USERS_GROUPS = frozenset({"users", "account users"})
RATE_LIMIT_RENEWAL_PERIOD = "minute"
"""The only renewal period Databricks supports; every limit is in calls per minute."""


# Settings of the Databricks provider (`pulumi_databricks/config/vars.py`, generated from its schema).
PROVIDER_KEYS = (
    "accountId", "actionsIdTokenRequestToken", "actionsIdTokenRequestUrl", "audience", "authType", "azureClientId",
    "azureClientSecret", "azureEnvironment", "azureLoginAppId", "azureTenantId", "azureUseMsi",
    "azureWorkspaceResourceId", "clientId", "clientSecret", "cloud", "clusterId", "configFile", "databricksCliPath",
    "databricksIdTokenFilepath", "debugHeaders", "debugTruncateBytes", "disableOauthRefreshToken", "discoveryUrl",
    "googleCredentials", "googleServiceAccount", "groupId", "host", "httpTimeoutSeconds", "metadataServiceUrl",
    "oauthCallbackPort", "oidcTokenEnv", "password", "profile", "rateLimit", "retryTimeoutSeconds", "scopes",
    "serverlessComputeId", "skipVerify", "token", "username", "warehouseId", "workspaceId",
)  # fmt: skip
PROVIDER_NAMESPACE = "databricks"
# The provider settings databricks-sdk marks `sensitive` (databricks/sdk/config.py), plus the GitHub Actions
# OIDC request token: only ever as `secure:` values.
CREDENTIAL_KEYS = tuple(
    f"{PROVIDER_NAMESPACE}:{key}"
    for key in (
        "token", "clientSecret", "password", "azureClientSecret", "googleCredentials", "metadataServiceUrl",
        "actionsIdTokenRequestToken",
    )
)  # fmt: skip
STACK_FILE_VARIABLE = "DATABRICKS_SERVING_STACK_FILE"
"""Names the stack file the program reads for the YAML checks when it is not `Pulumi.<stack>.yaml` in the
project directory (e.g. with `pulumi up --config-file`); empty: read none."""


# --- external models, provisioned throughput, instance profiles (databricks-sdk 0.156 service/serving.py) ---


class ExternalModelProvider(StrEnum):
    """Who serves an external model: databricks-sdk `ExternalModelProvider`, the providers whose config
    pulumi-databricks' `ModelServingConfigServedEntityExternalModelArgs` takes (`<provider>_config`)."""

    AI21LABS = "ai21labs"
    AMAZON_BEDROCK = "amazon-bedrock"
    ANTHROPIC = "anthropic"
    COHERE = "cohere"
    CUSTOM = "custom"
    DATABRICKS_MODEL_SERVING = "databricks-model-serving"
    GOOGLE_CLOUD_VERTEX_AI = "google-cloud-vertex-ai"
    OPENAI = "openai"
    PALM = "palm"


class ExternalModelTask(StrEnum):
    """The tasks an external model serves (Databricks docs, "External models": `llm/v1/completions`,
    `llm/v1/chat`, `llm/v1/embeddings`); the SDK types `task` as free text."""

    CHAT = "llm/v1/chat"
    COMPLETIONS = "llm/v1/completions"
    EMBEDDINGS = "llm/v1/embeddings"


class ProviderFields:
    """The keys of one provider's config block, as databricks-sdk's `<Provider>Config` names them.

    `secrets` hold credentials: only `{{secrets/<scope>/<key>}}` references. The SDK's `*_plaintext` twin of
    each is never accepted: a plaintext key would be in the Pulumi state and the plan.
    `credentials`: the provider needs at least one of these groups, every key of the group set (the SDK's
    "you must provide ..." notes).
    """

    def __init__(
        self,
        *,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
        secrets: tuple[str, ...] = (),
        credentials: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.required, self.optional, self.secrets, self.credentials = required, optional, secrets, credentials

    @property
    def keys(self) -> tuple[str, ...]:
        return self.required + self.optional + self.secrets


EXTERNAL_PROVIDER_FIELDS: dict[ExternalModelProvider, ProviderFields] = {
    ExternalModelProvider.AI21LABS: ProviderFields(secrets=("ai21labs_api_key",), credentials=(("ai21labs_api_key",),)),
    ExternalModelProvider.AMAZON_BEDROCK: ProviderFields(
        required=("aws_region", "bedrock_provider"),
        optional=("instance_profile_arn", "uc_service_credential_name"),
        secrets=("aws_access_key_id", "aws_secret_access_key"),
        credentials=(
            ("aws_access_key_id", "aws_secret_access_key"),
            ("instance_profile_arn",),
            ("uc_service_credential_name",),
        ),
    ),
    ExternalModelProvider.ANTHROPIC: ProviderFields(
        secrets=("anthropic_api_key",), credentials=(("anthropic_api_key",),)
    ),
    ExternalModelProvider.COHERE: ProviderFields(
        optional=("cohere_api_base",), secrets=("cohere_api_key",), credentials=(("cohere_api_key",),)
    ),
    # `api_key_auth: {key, value}` and `bearer_token_auth: {token}`: `value` and `token` are the secrets.
    ExternalModelProvider.CUSTOM: ProviderFields(
        required=("custom_provider_url",),
        optional=("api_key_auth", "bearer_token_auth"),
        credentials=(("api_key_auth",), ("bearer_token_auth",)),
    ),
    ExternalModelProvider.DATABRICKS_MODEL_SERVING: ProviderFields(
        required=("databricks_workspace_url",),
        secrets=("databricks_api_token",),
        credentials=(("databricks_api_token",),),
    ),
    ExternalModelProvider.GOOGLE_CLOUD_VERTEX_AI: ProviderFields(
        required=("project_id", "region"), secrets=("private_key",), credentials=(("private_key",),)
    ),
    ExternalModelProvider.OPENAI: ProviderFields(
        optional=(
            "microsoft_entra_client_id",
            "microsoft_entra_tenant_id",
            "openai_api_base",
            "openai_api_type",
            "openai_api_version",
            "openai_deployment_name",
            "openai_organization",
        ),
        secrets=("openai_api_key", "microsoft_entra_client_secret"),
        credentials=(
            ("openai_api_key",),
            ("microsoft_entra_client_id", "microsoft_entra_client_secret", "microsoft_entra_tenant_id"),
        ),
    ),
    ExternalModelProvider.PALM: ProviderFields(secrets=("palm_api_key",), credentials=(("palm_api_key",),)),
}
"""Every provider's config keys (databricks-sdk `Ai21LabsConfig`, `AmazonBedrockConfig`, ... `PaLmConfig`)."""

CUSTOM_PROVIDER_AUTH_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "api_key_auth": (("key", "value"), "value"),
    "bearer_token_auth": (("token",), "token"),
}
"""A custom provider's auth blocks: their keys and the one that is a secret (SDK `ApiKeyAuth`, `BearerTokenAuth`)."""

BEDROCK_PROVIDERS = ("ai21labs", "amazon", "anthropic", "cohere")
"""databricks-sdk `AmazonBedrockConfigBedrockProvider`."""

# Azure OpenAI is the `openai` provider with `openai_api_type` `azure` (key) or `azuread` (Microsoft Entra ID);
# it then needs the deployment's base URL, API version and deployment name (SDK `OpenAiConfig` docstrings).
AZURE_OPENAI_API_TYPES = ("azure", "azuread")
AZURE_OPENAI_REQUIRED = ("openai_api_base", "openai_api_version", "openai_deployment_name")

# An AWS instance profile ARN (`arn:aws:iam::<12-digit account>:instance-profile/<path/name>`), also in GovCloud
# and China partitions; what `instance_profile_arn` of a served entity and of a Bedrock config take.
INSTANCE_PROFILE_ARN_PATTERN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:instance-profile/[\w+=,.@/-]{1,128}$")


def default_external_served_name(model: str) -> str:
    """The served entity name Databricks gives an external model declared without one: the external model's
    name with `.` and `:` replaced by `-` (SDK `ServedEntityInput.name`)."""
    return model.replace(".", "-").replace(":", "-")
