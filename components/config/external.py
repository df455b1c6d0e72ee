"""External models (`endpoints.<key>.external_models[]`): a model another provider serves, behind the
endpoint's AI Gateway (OpenAI, Azure OpenAI, Anthropic, Amazon Bedrock, Google Cloud Vertex AI, Cohere,
AI21 Labs, PaLM, another Databricks workspace, or a custom OpenAI-compatible provider).

An external model has no compute of ours: no workload size or type, no scale to zero, no environment
variables (databricks-sdk `ServedEntityInput.external_model`: "Only one of external_model and (entity_name,
entity_version, workload_size, workload_type, and scale_to_zero_enabled) can be specified"). Its credentials
are `{{secrets/<scope>/<key>}}` references only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field, field_validator

from components.config.limits import (
    AZURE_OPENAI_API_TYPES,
    AZURE_OPENAI_REQUIRED,
    BEDROCK_PROVIDERS,
    CUSTOM_PROVIDER_AUTH_FIELDS,
    EXTERNAL_PROVIDER_FIELDS,
    INSTANCE_PROFILE_ARN_PATTERN,
    NAME_PATTERN,
    SECRET_REFERENCE_PATTERN,
    ExternalModelProvider,
    ExternalModelTask,
    default_external_served_name,
)
from components.config.problems import RuleProblem, StrictModel, fail, parsed_as

PLAINTEXT_SUFFIX = "_plaintext"

ConfigValue = str | dict[str, str]
"""A provider config value: text, or a custom provider's auth block (`api_key_auth: {key, value}`)."""


def _secret_problems(where: tuple[str | int, ...], value: Any, field: str = "") -> Iterable[RuleProblem]:
    if not (isinstance(value, str) and SECRET_REFERENCE_PATTERN.match(value)):
        yield RuleProblem(
            where,
            "secret_in_plaintext",
            f"{field}is a credential: write it as a reference `{{{{secrets/<scope>/<key>}}}}` to a Databricks secret",
        )


def _auth_problems(key: str, block: Any) -> Iterable[RuleProblem]:
    """A custom provider's `api_key_auth` / `bearer_token_auth` block."""
    where: tuple[str | int, ...] = ("config", key)
    fields, secret = CUSTOM_PROVIDER_AUTH_FIELDS[key]
    if not isinstance(block, Mapping):
        yield RuleProblem(where, "auth_block", f"must be a map with {', '.join(fields)}")
        return
    unknown = sorted(str(name) for name in set(block) - set(fields))
    if unknown:
        yield RuleProblem(where, "auth_block", f"unknown keys {', '.join(unknown)}; the keys are {', '.join(fields)}")
    for name in fields:
        if name not in block:
            yield RuleProblem(where, "auth_block", f"needs `{name}`")
    if secret in block:
        # Reported at the block, whose value no message shows: `value` alone is not a credential's name.
        yield from _secret_problems(where, block[secret], f"`{secret}` ")


def provider_config_problems(provider: ExternalModelProvider, config: Mapping[str, Any]) -> Iterable[RuleProblem]:
    """What is wrong with `config` for `provider`: unknown or missing keys, plaintext credentials, no
    credential at all, values out of the SDK's enums. Every problem, each at its key."""
    fields = EXTERNAL_PROVIDER_FIELDS[provider]
    for key, value in config.items():
        where: tuple[str | int, ...] = ("config", key)
        if str(key).endswith(PLAINTEXT_SUFFIX) and str(key)[: -len(PLAINTEXT_SUFFIX)] in fields.secrets:
            yield RuleProblem(
                where,
                "secret_in_plaintext",
                f"a plaintext credential would be in the Pulumi state: set `{str(key)[: -len(PLAINTEXT_SUFFIX)]}` "
                "to a reference `{{secrets/<scope>/<key>}}` instead",
            )
        elif key not in fields.keys:
            yield RuleProblem(
                where, "provider_config_key", f"is not a {provider.value} setting; they are {', '.join(fields.keys)}"
            )
        elif key in fields.secrets:
            yield from _secret_problems(where, value)
        elif key in CUSTOM_PROVIDER_AUTH_FIELDS:
            yield from _auth_problems(str(key), value)
        elif not isinstance(value, str) or not value.strip():
            yield RuleProblem(where, "provider_config_value", "must be non-empty text")
    for key in fields.required:
        if key not in config:
            yield RuleProblem(("config",), "provider_config_key", f"{provider.value} needs `{key}`")
    if fields.credentials and not any(all(key in config for key in group) for group in fields.credentials):
        choices = " or ".join("`" + "` + `".join(group) + "`" for group in fields.credentials)
        yield RuleProblem(("config",), "provider_credential", f"{provider.value} needs a credential: {choices}")
    yield from _enum_problems(provider, config)


def _enum_problems(provider: ExternalModelProvider, config: Mapping[str, Any]) -> Iterable[RuleProblem]:
    bedrock = config.get("bedrock_provider")
    if provider is ExternalModelProvider.AMAZON_BEDROCK and bedrock is not None and bedrock not in BEDROCK_PROVIDERS:
        yield RuleProblem(
            ("config", "bedrock_provider"), "bedrock_provider", f"must be one of {', '.join(BEDROCK_PROVIDERS)}"
        )
    profile = config.get("instance_profile_arn")
    if profile is not None and not (isinstance(profile, str) and INSTANCE_PROFILE_ARN_PATTERN.match(profile)):
        yield RuleProblem(
            ("config", "instance_profile_arn"),
            "instance_profile_arn",
            "must be an instance profile ARN `arn:aws:iam::<account id>:instance-profile/<name>`",
        )
    if provider is ExternalModelProvider.OPENAI and config.get("openai_api_type") in AZURE_OPENAI_API_TYPES:
        missing = [key for key in AZURE_OPENAI_REQUIRED if key not in config]
        if missing:
            yield RuleProblem(
                ("config",),
                "azure_openai",
                f"Azure OpenAI (openai_api_type {config['openai_api_type']}) needs {', '.join(missing)}",
            )


class ExternalModelConfig(StrictModel):
    """One external model served by the endpoint: which provider, which of its models, for which task."""

    provider: ExternalModelProvider = Field(
        description="openai (also Azure OpenAI), anthropic, amazon-bedrock, google-cloud-vertex-ai, cohere, "
        "ai21labs, palm, databricks-model-serving or custom."
    )
    model: str = Field(min_length=1, description="The provider's model name, e.g. `gpt-4o`, `claude-sonnet-4`.")
    task: ExternalModelTask = Field(description="`llm/v1/chat`, `llm/v1/completions` or `llm/v1/embeddings`.")
    name: str | None = Field(
        default=None, description="Served entity name; default the model name with `.` and `:` replaced by `-`."
    )
    config: dict[str, ConfigValue] = Field(
        default_factory=dict,
        description="The provider's settings, keyed as Databricks names them (`openai_api_key`, `aws_region`, "
        "...); credentials only as `{{secrets/<scope>/<key>}}` references.",
    )

    @field_validator("name")
    @classmethod
    def _served_name(cls, value: str | None) -> str | None:
        if value is not None and not (NAME_PATTERN.match(value) and len(value) <= 63):
            raise fail("served_name", "must be 1-63 letters, digits, `-` or `_`")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        provider = parsed_as(ExternalModelProvider, data.get("provider"))
        config = data.get("config")
        if provider is not None and isinstance(config, Mapping):
            yield from provider_config_problems(provider, config)
        elif provider is not None and config is None:
            yield from provider_config_problems(provider, {})
        model = data.get("model")
        if data.get("name") is None and isinstance(model, str) and model:
            default = default_external_served_name(model)
            if not (NAME_PATTERN.match(default) and len(default) <= 63):
                yield RuleProblem(
                    ("name",),
                    "served_name",
                    f"the default served name `{default}` is not 1-63 letters, digits, `-` or `_`: set a name",
                )

    @property
    def served_name(self) -> str:
        """The served entity's name: as given, or the model's name the way Databricks derives it."""
        return self.name or default_external_served_name(self.model)

    @property
    def config_field(self) -> str:
        """The serving API's (and pulumi-databricks') name of the provider's config block, `openai_config`."""
        return self.provider.value.replace("-", "_") + "_config"


def raw_external_served_name(entity: Any) -> str | None:
    """An external model's served name from its raw values (as `ExternalModelConfig.served_name`)."""
    if not isinstance(entity, Mapping):
        return None
    if entity.get("name") is not None:
        return entity["name"] if isinstance(entity["name"], str) else None
    model = entity.get("model")
    return default_external_served_name(model) if isinstance(model, str) and model else None


def entity_kind_problems(data: Mapping[str, Any]) -> Iterable[RuleProblem]:
    """An endpoint's raw values: one kind of served entity per endpoint, one task for its external models.

    databricks-sdk `ServedEntityInput.external_model`: an endpoint created with external models cannot be
    updated to one without, nor one without to one with; "The task type of all external models within an
    endpoint must be the same". Rollouts move traffic between versions of a registered model, with parity
    and warmup requests an external model does not take.
    """
    models, external = data.get("served_models"), data.get("external_models")
    has_models = isinstance(models, list) and bool(models)
    has_external = isinstance(external, list) and bool(external)
    if has_models and has_external:
        yield RuleProblem(
            ("external_models",),
            "entity_kinds",
            "an endpoint serves either registered models (served_models) or external models, not both: "
            "declare the external models on an endpoint of their own",
        )
    elif not has_models and not has_external:
        where = ("served_models",) if isinstance(models, list) else ()
        yield RuleProblem(
            where,
            "served_entities",
            "must have at least 1 entry, it has 0"
            if where
            else "declare served_models (registered models) or external_models",
        )
    if isinstance(external, list) and external:
        tasks = sorted({str(entity.get("task")) for entity in external if isinstance(entity, Mapping)})
        if len(tasks) > 1:
            yield RuleProblem(
                ("external_models",),
                "external_model_task",
                f"every external model of an endpoint serves the same task; found {', '.join(tasks)}",
            )
        if data.get("rollout") is not None:
            yield RuleProblem(
                ("rollout",),
                "external_rollout",
                "a rollout moves traffic between registered model versions; set the external models' "
                "shares in traffic instead",
            )
