"""An endpoint's AI Gateway (rate limits, usage tracking, fallback), inference tables and notifications."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, ValidationInfo, field_validator

from components.config.limits import ALL_USERS_GROUPS, EMAIL_PATTERN, UUID_PATTERN
from components.config.problems import StrictModel, fail
from components.config.served import UnityCatalogName


class InferenceTableConfig(StrictModel):
    """Capture of requests and responses into Unity Catalog tables, through the endpoint's AI Gateway.

    Sent as `ai_gateway.inference_table_config`, never as the legacy `config.auto_capture_config`, which
    Databricks refuses on new and existing endpoints since 2026-02-20.
    """

    enabled: bool = Field(
        default=True,
        description="False stops the capture and keeps the tables; Databricks changes catalog, schema or prefix "
        "only of a disabled table.",
    )

    catalog: UnityCatalogName = Field(description="Catalog of the inference tables.")
    schema_: UnityCatalogName = Field(alias="schema", description="Schema of the inference tables.")
    table_prefix: UnityCatalogName | None = Field(
        default=None, description="Table name prefix; default the endpoint name."
    )


class NotificationsConfig(StrictModel):
    """E-mail notifications on config update outcomes."""

    on_update_success: list[str] = Field(default_factory=list, description="Addresses told on success.")
    on_update_failure: list[str] = Field(default_factory=list, description="Addresses told on failure.")

    @field_validator("on_update_success", "on_update_failure")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not EMAIL_PATTERN.match(address):
                raise fail("email", "`{address}` is not an e-mail address", address=address)
        return value


class RateLimitKey(StrEnum):
    """Whom a rate limit counts: databricks-sdk `AiGatewayRateLimitKey`."""

    ENDPOINT = "endpoint"
    SERVICE_PRINCIPAL = "service_principal"
    USER = "user"
    USER_GROUP = "user_group"


class RateLimitConfig(StrictModel):
    """One AI Gateway rate limit, in calls per minute."""

    calls: int = Field(gt=0, description="Calls allowed per minute.")
    key: RateLimitKey = Field(
        default=RateLimitKey.ENDPOINT,
        description="`endpoint` (all callers together), `service_principal`, `user` or `user_group`.",
    )
    principal: str | None = Field(
        default=None,
        # Checked when left out too: a `user_group` limit needs one.
        validate_default=True,
        description="The one caller limited: application id (service_principal), e-mail (user), group name "
        "(user_group, required). None: every service principal / user on its own.",
    )

    @field_validator("principal")
    @classmethod
    def _principal_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        key = info.data.get("key")
        if value is None and key is RateLimitKey.USER_GROUP:
            raise fail("rate_limit_principal", "a `user_group` limit needs the group's name as principal")
        if value is None or key is None:
            return value
        if key is RateLimitKey.ENDPOINT:
            raise fail(
                "rate_limit_principal",
                "an `endpoint` limit counts every caller together and takes no principal; set key to "
                "service_principal, user or user_group to limit one caller",
            )
        if key is RateLimitKey.SERVICE_PRINCIPAL:
            if not UUID_PATTERN.match(value):
                raise fail(
                    "application_id",
                    "must be the service principal's application id (a UUID), not its display name",
                )
            return value.lower()
        if key is RateLimitKey.USER:
            if not EMAIL_PATTERN.match(value):
                raise fail("email", "a `user` limit names the user by e-mail address")
            return value
        if not value.strip():
            raise fail("group_name", "group names must not be empty")
        if value.strip().lower() in ALL_USERS_GROUPS:
            raise fail(
                "broad_principal",
                "`{group}` holds every user; limit them with key `endpoint` (all together) or `user` (each)",
                group=value,
            )
        return value


class PiiBehavior(StrEnum):
    """What a guardrail does with personal data it detects: databricks-sdk `AiGatewayGuardrailPiiBehaviorBehavior`."""

    BLOCK = "BLOCK"
    MASK = "MASK"
    NONE = "NONE"


class GuardrailConfig(StrictModel):
    """The guardrails on one side of a request (SDK `AiGatewayGuardrailParameters`)."""

    safety: bool = Field(default=False, description="Block unsafe content.")
    pii: PiiBehavior | None = Field(default=None, description="`BLOCK`, `MASK` or `NONE` for personal data.")
    invalid_keywords: list[str] = Field(
        default_factory=list, description="Block requests holding any of these (deprecated by Databricks)."
    )
    valid_topics: list[str] = Field(
        default_factory=list, description="Allow only these topics (deprecated by Databricks)."
    )

    @field_validator("invalid_keywords", "valid_topics")
    @classmethod
    def _non_empty_words(cls, value: list[str]) -> list[str]:
        if any(not word.strip() for word in value):
            raise fail("guardrail_words", "entries must not be empty")
        return value


class GuardrailsConfig(StrictModel):
    """AI Gateway guardrails on the requests (`input`) and the responses (`output`) of an endpoint."""

    input: GuardrailConfig | None = Field(default=None, description="Checks of what callers send.")
    output: GuardrailConfig | None = Field(default=None, description="Checks of what the model answers.")


class AiGatewayConfig(StrictModel):
    """The endpoint's AI Gateway: rate limits, usage tracking and fallback (inference tables: `inference_table`)."""

    rate_limits: list[RateLimitConfig] = Field(
        default_factory=list, description="Calls per minute, endpoint-wide or per caller."
    )
    usage_tracking: bool = Field(default=False, description="Record usage in the `system.serving` tables.")
    fallback: bool = Field(
        default=False,
        description="On a 5xx of the routed served entity, try the other served entities in order.",
    )

    guardrails: GuardrailsConfig | None = Field(
        default=None, description="Safety and personal-data checks of requests and responses."
    )

    @field_validator("rate_limits")
    @classmethod
    def _one_limit_per_caller(cls, value: list[RateLimitConfig]) -> list[RateLimitConfig]:
        pairs = [(limit.key.value, limit.principal) for limit in value]
        repeated = sorted({pair for pair in pairs if pairs.count(pair) > 1}, key=str)
        if repeated:
            raise fail(
                "unique_rate_limits",
                "one limit per key and principal; repeated: {pairs}",
                pairs=", ".join(f"{key} {principal}" if principal else key for key, principal in repeated),
            )
        return value
