"""Watching an endpoint after the deploy (`endpoints.<key>.monitoring`) and whom alerts notify
(`notification_destinations`).

An endpoint's `monitoring` declares SQL alerts on its own telemetry (p95/p99 latency, 5xx rate, request volume
drop), evaluated on a schedule by a SQL warehouse, notifying destinations the stack declares by name, and
optionally a Lakehouse monitor (inference-log profile) on its inference table for prediction drift.

What gates a rollout is what pages after it: `alert_plan` is the one place that computes the alerts'
effective thresholds, from `monitoring.alerts` where the stack overrides them, else from the rollout's health
gate (`rollout.health`; its defaults when the endpoint has no rollout).

Destination secrets (a Slack webhook URL, a PagerDuty integration key) are never written in the stack file:
a destination names a config key of this project that holds the value encrypted (`pulumi config set --secret`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from components.config.limits import EMAIL_PATTERN, NAME_PATTERN, PROJECT, UUID_PATTERN
from components.config.problems import RuleProblem, StrictModel, fail, section
from components.config.rollout import HealthGate, RolloutConfig
from components.config.schedules import (
    DAILY_AT_THREE,
    EVERY_FIVE_MINUTES,
    quartz_cron_problem,
    time_zone_problem,
)

CONFIG_SECRETS_CONTEXT = "config_secrets"
"""Validation context key: for each config key of this project a destination names, whether it is a secret."""

# A config key of this project's namespace (`databricks-serving:<name>`), as `pulumi config set` takes it.
SECRET_CONFIG_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")
WAREHOUSE_ID_PATTERN = re.compile(r"^[A-Za-z0-9]{1,64}$")
# Lakehouse monitoring's aggregation windows (databricks-sdk `MonitorInferenceLog.granularities`).
GRANULARITIES = (
    "5 minutes", "30 minutes", "1 hour", "1 day", "1 week", "2 weeks", "3 weeks", "4 weeks", "1 month", "1 year",
)  # fmt: skip
GATE_LATENCY_PERCENTILE = 95.0
"""The percentile the rollout's health gate judges (`rollout.health.max_p95_latency_ms`)."""


def _config_secrets(info: ValidationInfo) -> Mapping[str, bool] | None:
    context = info.context if isinstance(info.context, Mapping) else None
    secrets = context.get(CONFIG_SECRETS_CONTEXT) if context else None
    return secrets if isinstance(secrets, Mapping) else None


def _secret_config_key(value: str, info: ValidationInfo, holds: str) -> str:
    """A destination's secret: the name of a secret config key, never the value itself."""
    if not SECRET_CONFIG_KEY_PATTERN.match(value):
        raise fail(
            "secret_config_key",
            "names the config key holding the {holds}, never the value itself: set it with `pulumi config set "
            "--secret <name> <value>` and write <name> here (letters, digits, `-`, `_`)",
            holds=holds,
        )
    secrets = _config_secrets(info)
    if secrets is None:  # validated outside a stack (a test, a tool): nothing to check the key against
        return value
    if value not in secrets:
        raise fail(
            "secret_config_key",
            "names `{key}`, which this stack does not set: `pulumi config set --secret {name} <{holds}>`",
            key=f"{PROJECT}:{value}",
            name=value,
            holds=holds,
        )
    if not secrets[value]:
        raise fail(
            "plaintext_secret",
            "`{key}` holds the {holds} in plain text in the stack file; store it encrypted: "
            "`pulumi config set --secret {name} <{holds}>`",
            key=f"{PROJECT}:{value}",
            name=value,
            holds=holds,
        )
    return value


class SlackDestination(StrictModel):
    """A Slack incoming webhook."""

    url_secret: str = Field(description="Config key holding the webhook URL, set with `pulumi config set --secret`.")

    @field_validator("url_secret")
    @classmethod
    def _secret(cls, value: str, info: ValidationInfo) -> str:
        return _secret_config_key(value, info, "webhook URL")


class PagerDutyDestination(StrictModel):
    """A PagerDuty service, by its Events API integration key."""

    integration_key_secret: str = Field(
        description="Config key holding the integration key, set with `pulumi config set --secret`."
    )

    @field_validator("integration_key_secret")
    @classmethod
    def _secret(cls, value: str, info: ValidationInfo) -> str:
        return _secret_config_key(value, info, "integration key")


DESTINATION_KINDS = ("email", "slack", "pagerduty", "id")


class NotificationDestinationConfig(StrictModel):
    """A workspace notification destination alerts notify: exactly one of `email`, `slack`, `pagerduty`
    (declared here: only a workspace admin may create one), or the `id` of one the workspace's admins manage."""

    display_name: str | None = Field(
        default=None, min_length=1, max_length=255, description="Name in the workspace; default prefix + key."
    )
    email: list[str] | None = Field(default=None, min_length=1, description="E-mail addresses.")
    slack: SlackDestination | None = Field(default=None, description="A Slack webhook.")
    pagerduty: PagerDutyDestination | None = Field(default=None, description="A PagerDuty integration.")
    id: str | None = Field(
        default=None,
        description="An existing destination's id (a UUID): notified, not declared, so a deployer that is not a "
        "workspace admin can use it.",
    )

    @field_validator("id")
    @classmethod
    def _destination_id(cls, value: str | None) -> str | None:
        if value is not None and not UUID_PATTERN.match(value):
            raise fail("destination_id", "`{value}` is not a destination id (a UUID)", value=value)
        return value

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str] | None) -> list[str] | None:
        for address in value or []:
            if not EMAIL_PATTERN.match(address):
                raise fail("email", "`{address}` is not an e-mail address", address=address)
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        kinds = [kind for kind in DESTINATION_KINDS if data.get(kind) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            choices = ", ".join(DESTINATION_KINDS)
            yield RuleProblem((), "destination_kind", f"needs exactly one of {choices}; found {found}")
        if data.get("id") is not None and data.get("display_name") is not None:
            yield RuleProblem(
                ("display_name",), "destination_display_name", "names a declared destination; an `id` keeps its own"
            )

    @property
    def kind(self) -> str:
        return "email" if self.email else "slack" if self.slack else "pagerduty" if self.pagerduty else "id"

    @property
    def declared(self) -> bool:
        """Declared by this stack (a `NotificationDestination`), not referenced by `id`."""
        return self.id is None


class Schedule(StrictModel):
    """When Databricks evaluates: a Quartz cron expression in a time zone."""

    quartz_cron: str = Field(default=EVERY_FIVE_MINUTES, description="Quartz cron (seconds first, `?` for a day).")
    timezone: str = Field(default="UTC", description="A Java (IANA) time zone id.")

    @field_validator("quartz_cron")
    @classmethod
    def _quartz(cls, value: str) -> str:
        problem = quartz_cron_problem(value)
        if problem:
            raise fail("quartz_cron", problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        problem = time_zone_problem(value)
        if problem:
            raise fail("timezone", problem)
        return value


class LatencyAlert(StrictModel):
    """Pages when the endpoint's latency percentile over the window is above `max_ms`."""

    enabled: bool = Field(default=True, description="False: no latency alert.")
    percentile: float = Field(
        default=GATE_LATENCY_PERCENTILE, ge=50, lt=100, description="The percentile judged; default the gate's (95)."
    )
    max_ms: float | None = Field(
        default=None, gt=0, description="Threshold; default rollout.health.max_p95_latency_ms (for p95 only)."
    )

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        percentile = data.get("percentile", GATE_LATENCY_PERCENTILE)
        if data.get("enabled") is not False and data.get("max_ms") is None and percentile != GATE_LATENCY_PERCENTILE:
            yield RuleProblem(
                (),
                "latency_threshold",
                f"needs max_ms for percentile {percentile}: the health gate's threshold "
                "(rollout.health.max_p95_latency_ms) is for p95",
            )


class ErrorRateAlert(StrictModel):
    """Pages when the share of 5xx answers over the window is above `max`."""

    enabled: bool = Field(default=True, description="False: no 5xx-rate alert.")
    max: float | None = Field(default=None, ge=0, le=1, description="Default rollout.health.max_error_rate.")


class VolumeBaseline(StrEnum):
    """What the last window's request count is compared with."""

    PREVIOUS_WINDOW = "previous_window"
    PREVIOUS_DAY = "previous_day"
    PREVIOUS_WEEK = "previous_week"


class VolumeDropAlert(StrictModel):
    """Pages when requests fall by more than `max_drop` against the same window of the baseline."""

    enabled: bool = Field(default=True, description="False: no volume-drop alert.")
    max_drop: float = Field(default=0.5, gt=0, lt=1, description="Largest share of the baseline's requests lost.")
    baseline: VolumeBaseline = Field(default=VolumeBaseline.PREVIOUS_WEEK, description="The window compared with.")


class AlertsConfig(StrictModel):
    """The three alerts; each on unless `enabled: false`."""

    latency: LatencyAlert = Field(default_factory=LatencyAlert)
    error_rate: ErrorRateAlert = Field(default_factory=ErrorRateAlert)
    volume_drop: VolumeDropAlert = Field(default_factory=VolumeDropAlert)


class ProblemType(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class DriftMonitorConfig(StrictModel):
    """A Lakehouse monitor (inference-log profile) on the endpoint's inference table: prediction drift."""

    problem_type: ProblemType = Field(description="`classification` or `regression`.")
    prediction_column: str = Field(min_length=1, description="Column of the prediction.")
    label_column: str | None = Field(default=None, min_length=1, description="Column of the ground truth label.")
    timestamp_column: str = Field(default="request_time", min_length=1, description="Column of the request time.")
    model_id_column: str = Field(default="served_entity_id", min_length=1, description="Column of the model.")
    granularities: list[str] = Field(default_factory=lambda: ["1 day"], min_length=1, description="Time windows.")
    output_schema: str = Field(description="`catalog.schema` of the metric tables.")
    table: str | None = Field(default=None, description="`catalog.schema.table`; default the payload table.")
    assets_dir: str | None = Field(default=None, description="Workspace folder of the dashboard.")
    schedule: Schedule = Field(
        default_factory=lambda: Schedule(quartz_cron=DAILY_AT_THREE), description="Metric refresh."
    )

    @field_validator("granularities")
    @classmethod
    def _granularities(cls, value: list[str]) -> list[str]:
        unknown = [item for item in value if item not in GRANULARITIES]
        if unknown:
            raise fail(
                "granularity",
                "{unknown} not among {known}",
                unknown=", ".join(f"`{item}`" for item in unknown),
                known=", ".join(GRANULARITIES),
            )
        return value

    @field_validator("output_schema")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if len(value.split(".")) != 2 or not all(value.split(".")):
            raise fail("output_schema", "must be `catalog.schema`")
        return value

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and (len(value.split(".")) != 3 or not all(value.split("."))):
            raise fail("table", "must be `catalog.schema.table`")
        return value

    @field_validator("assets_dir")
    @classmethod
    def _folder(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise fail("assets_dir", "must be an absolute workspace path, e.g. `/Shared/monitoring`")
        return value


class MonitoringConfig(StrictModel):
    """Alerts on the endpoint's telemetry and, optionally, a drift monitor."""

    warehouse: str | None = Field(default=None, min_length=1, description="SQL warehouse name (or warehouse_id).")
    warehouse_id: str | None = Field(default=None, description="SQL warehouse id (or warehouse).")
    schedule: Schedule = Field(default_factory=Schedule, description="When the alerts are evaluated.")
    window_minutes: int = Field(default=15, ge=5, le=1440, description="The period each evaluation looks back on.")
    min_requests: int | None = Field(
        default=None, ge=1, description="Requests a window needs to be judged; default rollout.health.min_requests."
    )
    notify: list[str] = Field(min_length=1, description="Names of `notification_destinations`.")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Thresholds.")
    drift: DriftMonitorConfig | None = Field(default=None, description="A Lakehouse monitor for prediction drift.")

    @field_validator("warehouse_id")
    @classmethod
    def _warehouse_id(cls, value: str | None) -> str | None:
        if value is not None and not WAREHOUSE_ID_PATTERN.match(value):
            raise fail("warehouse_id", "must be a SQL warehouse id (letters and digits, e.g. `a1b2c3d4e5f6a7b8`)")
        return value

    @field_validator("notify")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise fail(
                "unique_destinations", "names each destination once; repeated: {names}", names=", ".join(repeated)
            )
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        if (data.get("warehouse") is None) == (data.get("warehouse_id") is None):
            yield RuleProblem(
                (), "warehouse", "needs exactly one of warehouse (the SQL warehouse's name) and warehouse_id"
            )


def monitoring_rules(endpoint: Mapping[str, Any]) -> Iterable[RuleProblem]:
    """An endpoint's monitoring against what it records: which telemetry each alert and the monitor read."""
    monitoring = endpoint.get("monitoring")
    if not isinstance(monitoring, Mapping):
        return
    table = endpoint.get("inference_table")
    has_table = isinstance(table, Mapping) and table.get("enabled") is not False
    tracks_usage = section(endpoint, "ai_gateway", "usage_tracking") is True

    def enabled(alert: str) -> bool:
        return section(monitoring, "alerts", alert, "enabled") is not False

    if enabled("latency") and not has_table:
        yield RuleProblem(
            ("monitoring",),
            "monitoring_source",
            "the latency alert reads execution_duration_ms from the endpoint's inference table (the "
            "system.serving tables record no latency): declare an enabled inference_table, or set "
            "monitoring.alerts.latency.enabled: false",
        )
    if (enabled("error_rate") or enabled("volume_drop")) and not has_table and not tracks_usage:
        yield RuleProblem(
            ("monitoring",),
            "monitoring_source",
            "the 5xx-rate and volume alerts read the inference table or the system.serving tables: declare an "
            "enabled inference_table, or set ai_gateway.usage_tracking: true",
        )
    drift = monitoring.get("drift")
    if isinstance(drift, Mapping) and drift.get("table") is None and not has_table:
        yield RuleProblem(
            ("monitoring", "drift"),
            "monitoring_source",
            "needs an inference table to profile: declare an enabled inference_table, or name the table "
            "(monitoring.drift.table)",
        )


def destination_rules(stack: Mapping[str, Any]) -> Iterable[RuleProblem]:
    """Every destination an endpoint's monitoring notifies is declared under `notification_destinations`."""
    declared = stack.get("notification_destinations")
    names = set(declared) if isinstance(declared, Mapping) else set()
    for name in sorted(str(name) for name in names):
        if not NAME_PATTERN.match(name):
            yield RuleProblem(
                ("notification_destinations", name),
                "destination_key",
                "destination names may only hold letters, digits, `-` and `_`: the name names its resource",
            )
    endpoints = stack.get("endpoints")
    for key, endpoint in (endpoints or {}).items() if isinstance(endpoints, Mapping) else ():
        notify = section(endpoint, "monitoring", "notify")
        for index, name in enumerate(notify if isinstance(notify, list) else []):
            if isinstance(name, str) and name not in names:
                known = ", ".join(sorted(names)) if names else "none are declared"
                yield RuleProblem(
                    ("endpoints", key, "monitoring", "notify", index),
                    "destination",
                    f"`{name}` is not declared under notification_destinations ({known})",
                )


def secret_config_keys(values: Mapping[str, Any]) -> list[str]:
    """The config keys of this project the raw `notification_destinations` name as secrets (for loading)."""
    destinations = values.get("notification_destinations")
    keys = []
    for destination in destinations.values() if isinstance(destinations, Mapping) else ():
        for kind, field in (("slack", "url_secret"), ("pagerduty", "integration_key_secret")):
            name = section(destination, kind, field)
            if isinstance(name, str) and SECRET_CONFIG_KEY_PATTERN.match(name):
                keys.append(name)
    return sorted(set(keys))


class AlertKind(StrEnum):
    LATENCY = "latency"
    ERROR_RATE = "error_rate"
    VOLUME_DROP = "volume_drop"


@dataclass(frozen=True)
class AlertThreshold:
    """One alert as declared: what it judges, above which value it pages, and which stack key said so."""

    kind: AlertKind
    threshold: float
    """Latency in ms, 5xx share 0-1, or volume drop share 0-1: the alert fires when the value is above it."""
    threshold_from: str
    """The endpoint key the threshold comes from (`rollout.health.max_error_rate`, `monitoring.alerts...`)."""
    percentile: float | None = None
    """The latency percentile (latency alerts only)."""


BASELINE_MINUTES: dict[VolumeBaseline, int | None] = {
    VolumeBaseline.PREVIOUS_WINDOW: None,  # the window itself
    VolumeBaseline.PREVIOUS_DAY: 24 * 60,
    VolumeBaseline.PREVIOUS_WEEK: 7 * 24 * 60,
}


@dataclass(frozen=True)
class AlertPlan:
    """The effective alerts of an endpoint: the one place thresholds are resolved."""

    alerts: tuple[AlertThreshold, ...]
    min_requests: int
    min_requests_from: str
    window_minutes: int
    baseline_offset_minutes: int
    """How far back the volume baseline window starts before the current one."""


def alert_plan(monitoring: MonitoringConfig, rollout: RolloutConfig | None) -> AlertPlan:
    """The alerts' thresholds: `monitoring.alerts` where given, else the rollout's health gate (or its defaults)."""
    health = rollout.health if rollout is not None else HealthGate()
    gate = "rollout.health" if rollout is not None else "rollout.health (default)"
    alerts = monitoring.alerts
    plan: list[AlertThreshold] = []
    if alerts.latency.enabled:
        own = alerts.latency.max_ms
        plan.append(
            AlertThreshold(
                AlertKind.LATENCY,
                own if own is not None else health.max_p95_latency_ms,
                "monitoring.alerts.latency.max_ms" if own is not None else f"{gate}.max_p95_latency_ms",
                percentile=alerts.latency.percentile,
            )
        )
    if alerts.error_rate.enabled:
        own = alerts.error_rate.max
        plan.append(
            AlertThreshold(
                AlertKind.ERROR_RATE,
                own if own is not None else health.max_error_rate,
                "monitoring.alerts.error_rate.max" if own is not None else f"{gate}.max_error_rate",
            )
        )
    if alerts.volume_drop.enabled:
        plan.append(
            AlertThreshold(AlertKind.VOLUME_DROP, alerts.volume_drop.max_drop, "monitoring.alerts.volume_drop.max_drop")
        )
    own_min = monitoring.min_requests
    offset = BASELINE_MINUTES[alerts.volume_drop.baseline]
    return AlertPlan(
        alerts=tuple(plan),
        min_requests=own_min if own_min is not None else health.min_requests,
        min_requests_from="monitoring.min_requests" if own_min is not None else f"{gate}.min_requests",
        window_minutes=monitoring.window_minutes,
        baseline_offset_minutes=offset if offset is not None else monitoring.window_minutes,
    )
