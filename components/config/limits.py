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
SECRET_NAME_PATTERN = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIAL|API_?KEY|PRIVATE_KEY)", re.I)
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
