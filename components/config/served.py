"""The served entities of an endpoint: model, version or alias, compute, environment; tags and names."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from components.config.limits import (
    ENVIRONMENT_VAR_NAME_PATTERN,
    INSTANCE_PROFILE_ARN_PATTERN,
    MAX_ENVIRONMENT_VARS,
    MAX_TAG_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_UNITY_CATALOG_NAME_LENGTH,
    MODEL_ALIAS_PATTERN,
    MODEL_NAME_PATTERN,
    NAME_PATTERN,
    REGISTRY_MODEL_NAME_PATTERN,
    RESERVED_ALIAS_PATTERN,
    SECRET_REFERENCE_PATTERN,
    TOKEN_VALUE_PATTERN,
    UNITY_CATALOG_FORBIDDEN,
    WorkloadSize,
    WorkloadType,
    default_served_entity_name,
    is_plaintext_credential,
)
from components.config.problems import RuleProblem, StrictModel, fail, parsed_as


def _positive_version(value: Any) -> str:
    """Model versions are positive integers; YAML gives `3` or `"3"`, Databricks wants `"3"`."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise fail("version", 'must be a positive integer, written as 3 or "3"')
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise fail("version", 'must be a positive integer, written as 3 or "3"')
    return str(int(text))


def _version_or_alias(value: Any) -> str:
    """A version number (`3`, `"3"`), or an alias `@champion` kept as written."""
    if isinstance(value, str) and value.strip().startswith("@"):
        text = value.strip()
        if not MODEL_ALIAS_PATTERN.match(text) or RESERVED_ALIAS_PATTERN.match(text):
            raise fail(
                "version",
                "an alias is `@` and its name: letters, digits, `_` or `-` (not `latest` or `v<number>`), "
                'e.g. "@champion"',
            )
        return text
    return _positive_version(value)


ModelVersion = Annotated[str, BeforeValidator(_version_or_alias)]


def _tag_key(key: str) -> str:
    if not key.strip():
        raise fail("tag_key", "tag keys must not be empty")
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise fail("tag_key", f"tag keys are at most {MAX_TAG_KEY_LENGTH} characters, this one has {len(key)}")
    return key


def _tag_value(value: str) -> str:
    if TOKEN_VALUE_PATTERN.search(value):
        raise fail("tag_credential", "holds a Databricks token; tags are plain text: remove it")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise fail("tag_value", f"tag values are at most {MAX_TAG_VALUE_LENGTH} characters, this one has {len(value)}")
    return value


Tags = dict[Annotated[str, AfterValidator(_tag_key)], Annotated[str, AfterValidator(_tag_value)]]
"""Endpoint tags: key -> value, within Databricks' limits."""


def _unity_catalog_name(value: str) -> str:
    if not value or len(value) > MAX_UNITY_CATALOG_NAME_LENGTH or UNITY_CATALOG_FORBIDDEN.search(value):
        raise fail(
            "unity_catalog_name",
            f"must be a Unity Catalog name: 1-{MAX_UNITY_CATALOG_NAME_LENGTH} characters, no period, space, "
            "`/` or control character",
        )
    return value


UnityCatalogName = Annotated[str, AfterValidator(_unity_catalog_name)]


def raw_served_name(entity: Any) -> str | None:
    """A served entity's name from its raw values (as `ServedModelConfig.served_name`), None if unknown."""
    if not isinstance(entity, Mapping):
        return None
    if entity.get("name") is not None:
        return entity["name"] if isinstance(entity["name"], str) else None
    model = entity.get("model")
    try:
        version = _version_or_alias(entity.get("version"))
    except PydanticCustomError:
        return None
    return default_served_entity_name(model, version) if isinstance(model, str) else None


def raw_names(entities: Any, name_of: Callable[[Any], str | None]) -> list[str] | None:
    """The served names of a raw list of entities (`name_of` reads one); None if any of them is unknown."""
    if not isinstance(entities, list) or not entities:
        return None
    names = [name_of(entity) for entity in entities]
    known = [name for name in names if name is not None]
    return known if len(known) == len(names) else None


def raw_served_names(endpoint: Mapping[str, Any]) -> list[str] | None:
    """The served entity names of an endpoint's raw values; None if any of them is unknown."""
    return raw_names(endpoint.get("served_models"), raw_served_name)


class ProvisionedConcurrency(StrictModel):
    """Provisioned concurrency range, used instead of a workload size."""

    min: int = Field(ge=0, description="Minimum provisioned concurrency.")
    max: int = Field(ge=1, description="Maximum provisioned concurrency.")

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        low, high = parsed_as(int, data.get("min")), parsed_as(int, data.get("max"))
        if low is not None and high is not None and low > high:
            yield RuleProblem((), "range", f"min ({low}) must not exceed max ({high})")
        if any(bound is not None and bound % 4 for bound in (low, high)):
            yield RuleProblem(
                (), "multiple_of_4", "min and max must be multiples of 4 (Databricks scales in steps of 4)"
            )


class ProvisionedThroughput(StrictModel):
    """A provisioned throughput band in tokens per second: a foundation model's dedicated capacity.

    Databricks accepts only multiples of the model's own band increment (`throughput_chunk_size` of
    GET /api/2.0/serving-endpoints/get-model-optimization-info/{model}/{version}), which differs per model and
    version: the workspace checks that, before any capacity is provisioned.
    """

    min: int = Field(ge=0, description="Minimum tokens per second (0 with scale_to_zero).")
    max: int = Field(ge=1, description="Maximum tokens per second.")

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        low, high = parsed_as(int, data.get("min")), parsed_as(int, data.get("max"))
        if low is not None and high is not None and low > high:
            yield RuleProblem((), "range", f"min ({low}) must not exceed max ({high})")


CAPACITY_KEYS = ("workload_size", "provisioned_concurrency", "provisioned_throughput", "provisioned_model_units")
"""How a served entity's capacity is declared: exactly one of these (SDK `ServedEntityInput`)."""
THROUGHPUT_KEYS = ("provisioned_throughput", "provisioned_model_units")


def _capacity_problems(data: Mapping[str, Any]) -> Iterable[RuleProblem]:
    """One capacity per served entity; provisioned throughput (a foundation model) has no compute type."""
    given = [key for key in CAPACITY_KEYS if data.get(key) is not None]
    if given == ["workload_size", "provisioned_concurrency"]:
        yield RuleProblem((), "capacity", "set either workload_size or provisioned_concurrency, not both")
    elif len(given) > 1:
        yield RuleProblem((), "capacity", f"set one of {', '.join(CAPACITY_KEYS)}, not {' and '.join(given)}")
    elif not given:
        yield RuleProblem(
            (), "capacity", "set workload_size (Small, Medium or Large) or provisioned_concurrency (min, max)"
        )
    throughput = [key for key in THROUGHPUT_KEYS if key in given]
    if throughput and data.get("workload_type") is not None:
        yield RuleProblem(
            ("workload_type",),
            "throughput_compute",
            f"a served entity with {throughput[0]} runs on compute Databricks picks: remove workload_type",
        )
    if data.get("burst_scaling") is not None and data.get("provisioned_model_units") is None:
        yield RuleProblem(
            ("burst_scaling",), "burst_scaling", "applies to provisioned_model_units only: set those, or remove it"
        )


class ServedModelConfig(StrictModel):
    """One served entity: a registered model version and the compute it runs on."""

    model: str = Field(
        description="Unity Catalog model full name `catalog.schema.model`, or a legacy workspace Model Registry "
        "name (no dots)."
    )
    version: ModelVersion = Field(
        description="Model version, a positive integer; or an alias `@champion` (Unity Catalog; `@Production` / "
        "`@Staging` for a workspace Model Registry model), resolved to its number when the program runs."
    )
    name: str | None = Field(
        default=None,
        description="Served entity name; default `<model short name>-<version>`.",
    )
    workload_size: WorkloadSize | None = Field(
        default=None, description="Small (4 concurrent requests), Medium (8-16) or Large (16-64)."
    )
    workload_type: WorkloadType = Field(default=WorkloadType.CPU, description="Compute type.")
    scale_to_zero: bool = Field(
        default=False, description="Scale to zero when idle; the next request meets a cold start."
    )
    environment_vars: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables; credentials only as `{{secrets/<scope>/<key>}}`.",
    )
    provisioned_concurrency: ProvisionedConcurrency | None = Field(
        default=None, description="Provisioned concurrency range instead of a workload size."
    )
    provisioned_throughput: ProvisionedThroughput | None = Field(
        default=None,
        description="A foundation model's throughput band in tokens per second (min, max), instead of a size.",
    )
    provisioned_model_units: int | None = Field(
        default=None, ge=1, description="A foundation model's capacity in model units, instead of a size."
    )
    burst_scaling: bool | None = Field(
        default=None,
        description="With provisioned_model_units: scale past them on traffic spikes (Databricks' default: on).",
    )
    instance_profile_arn: str | None = Field(
        default=None, description="AWS instance profile the served entity uses to reach AWS resources."
    )

    @field_validator("instance_profile_arn")
    @classmethod
    def _instance_profile(cls, value: str | None) -> str | None:
        if value is not None and not INSTANCE_PROFILE_ARN_PATTERN.match(value):
            raise fail(
                "instance_profile_arn",
                "must be an instance profile ARN `arn:aws:iam::<account id>:instance-profile/<name>`",
            )
        return value

    @field_validator("model")
    @classmethod
    def _model_full_name(cls, value: str) -> str:
        if not (MODEL_NAME_PATTERN.match(value) or REGISTRY_MODEL_NAME_PATTERN.match(value)):
            raise fail(
                "model_name",
                "must be a Unity Catalog full name `catalog.schema.model`, or a workspace Model Registry name "
                "without dots (`RiskClassifier`)",
            )
        return value

    @field_validator("name")
    @classmethod
    def _served_name(cls, value: str | None) -> str | None:
        if value is not None and not (NAME_PATTERN.match(value) and len(value) <= 63):
            raise fail("served_name", "must be 1-63 letters, digits, `-` or `_`")
        return value

    @field_validator("environment_vars")
    @classmethod
    def _environment_var_count(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ENVIRONMENT_VARS:
            raise fail(
                "too_many_environment_vars",
                "at most {limit} environment variables per served entity, found {count}",
                limit=MAX_ENVIRONMENT_VARS,
                count=len(value),
            )
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        # Each variable on its own, so that one bad value does not hide a credential next to it.
        variables = data.get("environment_vars")
        for key, text in variables.items() if isinstance(variables, Mapping) else ():
            where = ("environment_vars", key)
            if not ENVIRONMENT_VAR_NAME_PATTERN.match(str(key)):
                yield RuleProblem(
                    where,
                    "environment_var_name",
                    "is not an environment variable name: letters, digits and `_`, not starting with a digit",
                )
            if not isinstance(text, str):
                continue
            if "{{secrets/" in text and not SECRET_REFERENCE_PATTERN.match(text):
                yield RuleProblem(
                    where, "secret_reference", "is not a secret reference; write it as `{{secrets/<scope>/<key>}}`"
                )
            elif is_plaintext_credential(str(key), text):
                yield RuleProblem(
                    where,
                    "secret_in_plaintext",
                    "holds a credential in plain text; write it as a reference `{{secrets/<scope>/<key>}}` "
                    "to a Databricks secret",
                )
        yield from _capacity_problems(data)

    @property
    def served_name(self) -> str:
        """The served entity's name: as given, or `<model short name>-<version>` like Databricks.

        The short name of a Unity Catalog model is its last part; a Model Registry name is its own short name.
        Declared by alias, `<model short name>-<alias>` (`risk_classifier-champion`): the name stays when the
        alias moves to another version.
        """
        return self.name or default_served_entity_name(self.model, self.version)

    @property
    def provisioned_throughput_entity(self) -> bool:
        """True for a foundation model on provisioned throughput (a band or model units): no compute type."""
        return self.provisioned_throughput is not None or self.provisioned_model_units is not None

    @property
    def in_unity_catalog(self) -> bool:
        """True for a Unity Catalog model; False for a legacy workspace Model Registry one."""
        return bool(MODEL_NAME_PATTERN.match(self.model))
