"""An endpoint's monitoring as pulumi-databricks resources: SQL alerts on its telemetry, a drift monitor, and the
stack's notification destinations.

- `declare_destinations`: one `databricks.NotificationDestination` per `notification_destinations` entry,
  stack-wide (endpoints share them); a Slack webhook URL or PagerDuty integration key is read from its secret
  config key (`require_secret`) and stays a secret Output, in the inputs and in state (`config` is an
  additional secret output);
- `declare_monitoring`: for an endpoint with `monitoring`, children of its `ServingEndpoint`, after its
  ModelServing (which creates the inference table):
  - `<key>-alert-latency`, `<key>-alert-error-rate`, `<key>-alert-volume-drop`: `databricks.AlertV2`, each a
    query, its schedule, the warehouse that runs it, the threshold and the destinations in one resource
    (rather than `databricks.Query` + `databricks.Alert`, two resources per alert whose legacy alert API has
    no schedule of its own and notifies only through a job or the query's refresh schedule);
  - `<key>-drift-monitor` (with `monitoring.drift`): `databricks.QualityMonitor`, inference-log profile.

The thresholds come from `components.config.alert_plan`, the same values the rollout's health gate judges
unless `monitoring.alerts` overrides them. Telemetry: the endpoint's AI Gateway inference table
(`<catalog>.<schema>.<prefix>_payload`: `request_time`, `status_code`, `execution_duration_ms`,
`sampling_fraction`) when it declares one, else the serving system tables (`system.serving.endpoint_usage`
joined to `system.serving.served_entities` by `served_entity_id`, filled when usage tracking is on).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_databricks as databricks

from components.config import (
    PROJECT,
    AlertKind,
    AlertPlan,
    AlertThreshold,
    DriftMonitorConfig,
    EndpointSpec,
    MonitoringConfig,
    NotificationDestinationConfig,
    StackConfig,
    alert_plan,
)

SYSTEM_USAGE_TABLE = "system.serving.endpoint_usage"
SYSTEM_ENTITIES_TABLE = "system.serving.served_entities"
PAYLOAD_SUFFIX = "_payload"
"""The AI Gateway inference table is `<table_name_prefix>_payload` in the declared catalog and schema."""
ALERT_NAMES: dict[AlertKind, str] = {
    AlertKind.LATENCY: "latency",
    AlertKind.ERROR_RATE: "error-rate",
    AlertKind.VOLUME_DROP: "volume-drop",
}
"""Resource name suffix of each alert: `<key>-alert-<suffix>`."""
PROBLEM_TYPES = {"classification": "PROBLEM_TYPE_CLASSIFICATION", "regression": "PROBLEM_TYPE_REGRESSION"}
ASSETS_ROOT = "/Shared/databricks-serving/monitoring"


def _quoted(name: str) -> str:
    """A Unity Catalog name as SQL: each part in backticks (a `-` in a name needs them)."""
    return ".".join(f"`{part.replace('`', '``')}`" for part in name.split("."))


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def payload_table(spec: EndpointSpec) -> str | None:
    """The endpoint's AI Gateway inference table (`catalog.schema.<prefix>_payload`), None while it records none."""
    table = spec.endpoint.inference_table
    if table is None or not table.enabled:
        return None
    return f"{table.catalog}.{table.schema_}.{table.table_prefix or spec.name}{PAYLOAD_SUFFIX}"


@dataclass(frozen=True)
class Telemetry:
    """Where an endpoint's requests are recorded, as the alerts' SQL reads them."""

    table: str
    """`FROM` clause."""
    endpoint_filter: str | None
    """A condition selecting the endpoint's rows (the system tables hold every endpoint's)."""
    weight: str
    """What one row counts for: the inference table samples requests (`sampling_fraction`)."""
    daily_partitions: bool
    """Whether the table has `request_date` to prune by."""

    @classmethod
    def of(cls, spec: EndpointSpec) -> Telemetry:
        payload = payload_table(spec)
        if payload is not None:
            return cls(_quoted(payload), None, "1.0 / COALESCE(sampling_fraction, 1.0)", True)
        entities = f"SELECT served_entity_id FROM {SYSTEM_ENTITIES_TABLE} WHERE endpoint_name = {_literal(spec.name)}"
        return cls(SYSTEM_USAGE_TABLE, f"served_entity_id IN ({entities})", "1.0", False)

    def where(self, lookback_minutes: int) -> str:
        """Rows of the endpoint in the last `lookback_minutes`."""
        conditions = [f"request_time >= current_timestamp() - INTERVAL {lookback_minutes} MINUTES"]
        if self.daily_partitions:
            days = math.ceil(lookback_minutes / (24 * 60)) + 1
            conditions.insert(0, f"request_date >= date_sub(current_date(), {days})")
        if self.endpoint_filter:
            conditions.append(self.endpoint_filter)
        return " AND ".join(conditions)


def value_column(alert: AlertThreshold) -> str:
    """The column the alert's query returns and its evaluation compares with the threshold."""
    if alert.kind is AlertKind.LATENCY:
        return f"p{alert.percentile:g}_latency_ms".replace(".", "_")
    return alert.kind.value


def alert_query(alert: AlertThreshold, plan: AlertPlan, telemetry: Telemetry) -> str:
    """The SQL of one alert: one row, one value, 0 while the window has fewer than `min_requests` requests."""
    window, column = plan.window_minutes, value_column(alert)
    requests = f"SUM({telemetry.weight})"
    if alert.kind is AlertKind.LATENCY:
        fraction = f"{(alert.percentile or 0) / 100:g}"
        value = f"percentile_approx(execution_duration_ms, {fraction})"
        return (
            f"SELECT CASE WHEN {requests} >= {plan.min_requests} THEN COALESCE({value}, 0) ELSE 0 END AS {column} "
            f"FROM {telemetry.table} WHERE {telemetry.where(window)}"
        )
    if alert.kind is AlertKind.ERROR_RATE:
        failed = f"SUM(CASE WHEN status_code >= 500 THEN {telemetry.weight} ELSE 0 END)"
        return (
            f"SELECT CASE WHEN {requests} >= {plan.min_requests} THEN {failed} / {requests} ELSE 0 END AS {column} "
            f"FROM {telemetry.table} WHERE {telemetry.where(window)}"
        )
    offset = plan.baseline_offset_minutes
    now = "current_timestamp()"
    current = f"request_time >= {now} - INTERVAL {window} MINUTES"
    baseline = (
        f"request_time >= {now} - INTERVAL {offset + window} MINUTES "
        f"AND request_time < {now} - INTERVAL {offset} MINUTES"
    )
    return (
        f"SELECT CASE WHEN baseline_requests >= {plan.min_requests} "
        f"THEN GREATEST(1 - current_requests / baseline_requests, 0) ELSE 0 END AS {column} "
        f"FROM (SELECT SUM(CASE WHEN {current} THEN {telemetry.weight} ELSE 0 END) AS current_requests, "
        f"SUM(CASE WHEN {baseline} THEN {telemetry.weight} ELSE 0 END) AS baseline_requests "
        f"FROM {telemetry.table} WHERE {telemetry.where(offset + window)})"
    )


def alert_title(spec: EndpointSpec, alert: AlertThreshold) -> str:
    """What the alert says when it fires, threshold included."""
    if alert.kind is AlertKind.LATENCY:
        return f"{spec.name}: p{alert.percentile:g} latency above {alert.threshold:g} ms"
    if alert.kind is AlertKind.ERROR_RATE:
        return f"{spec.name}: 5xx rate above {alert.threshold:.2%}"
    return f"{spec.name}: request volume down more than {alert.threshold:.0%}"


def destination_config(
    destination: NotificationDestinationConfig, secret: pulumi.Output[str] | None
) -> databricks.NotificationDestinationConfigArgs:
    """The destination's config block; `secret` is the webhook URL or integration key, a secret Output."""
    if destination.email:
        return databricks.NotificationDestinationConfigArgs(
            email=databricks.NotificationDestinationConfigEmailArgs(addresses=list(destination.email))
        )
    if destination.slack:
        return databricks.NotificationDestinationConfigArgs(
            slack=databricks.NotificationDestinationConfigSlackArgs(url=secret)
        )
    return databricks.NotificationDestinationConfigArgs(
        pagerduty=databricks.NotificationDestinationConfigPagerdutyArgs(integration_key=secret)
    )


def _secret_key(destination: NotificationDestinationConfig) -> str | None:
    if destination.slack:
        return destination.slack.url_secret
    if destination.pagerduty:
        return destination.pagerduty.integration_key_secret
    return None


def declare_destinations(
    stack: StackConfig, opts: pulumi.ResourceOptions | None = None
) -> dict[str, pulumi.Input[str]]:
    """The stack's notification destinations' ids, by name: each declared one a `destination-<name>` named
    `<prefix><name>`; one given by `id` is only referenced (its admins manage it)."""
    config = pulumi.Config(PROJECT)
    destinations: dict[str, pulumi.Input[str]] = {}
    for name, destination in stack.notification_destinations.items():
        if destination.id is not None:
            destinations[name] = destination.id
            continue
        key = _secret_key(destination)
        secret = config.require_secret(key) if key else None
        destinations[name] = databricks.NotificationDestination(
            f"destination-{name}",
            display_name=destination.display_name or stack.defaults.name_prefix + name,
            config=destination_config(destination, secret),
            # The webhook URL or integration key is in `config`: secret in state as in the inputs.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["config"])),
        ).id
    return destinations


def warehouse_id(monitoring: MonitoringConfig, parent: pulumi.Resource) -> pulumi.Input[str]:
    """The SQL warehouse's id: as declared, or looked up by name (`databricks.get_sql_warehouse`)."""
    if monitoring.warehouse_id is not None:
        return monitoring.warehouse_id
    found = databricks.get_sql_warehouse_output(
        name=monitoring.warehouse, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return found.id


@dataclass(frozen=True)
class EndpointMonitoring:
    """What `declare_monitoring` declared for one endpoint."""

    alerts: Mapping[AlertKind, databricks.AlertV2]
    drift_monitor: databricks.QualityMonitor | None


def _alert(
    spec: EndpointSpec,
    alert: AlertThreshold,
    plan: AlertPlan,
    warehouse: pulumi.Input[str],
    destinations: list[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> databricks.AlertV2:
    monitoring = spec.endpoint.monitoring
    assert monitoring is not None
    title = alert_title(spec, alert)
    return databricks.AlertV2(
        f"{spec.key}-alert-{ALERT_NAMES[alert.kind]}",
        display_name=f"{spec.name} {ALERT_NAMES[alert.kind]}",
        query_text=alert_query(alert, plan, Telemetry.of(spec)),
        warehouse_id=warehouse,
        schedule=databricks.AlertV2ScheduleArgs(
            quartz_cron_schedule=monitoring.schedule.quartz_cron,
            timezone_id=monitoring.schedule.timezone,
            pause_status="UNPAUSED",
        ),
        evaluation=databricks.AlertV2EvaluationArgs(
            source=databricks.AlertV2EvaluationSourceArgs(name=value_column(alert)),
            comparison_operator="GREATER_THAN",
            threshold=databricks.AlertV2EvaluationThresholdArgs(
                value=databricks.AlertV2EvaluationThresholdValueArgs(double_value=alert.threshold)
            ),
            # The query always returns its one row; no row means the table is not there yet.
            empty_result_state="OK",
            notification=databricks.AlertV2EvaluationNotificationArgs(
                notify_on_ok=True,
                subscriptions=[
                    databricks.AlertV2EvaluationNotificationSubscriptionArgs(destination_id=destination)
                    for destination in destinations
                ],
            ),
        ),
        custom_summary=title,
        custom_description=f"{title} over the last {plan.window_minutes} minutes (threshold from "
        f"endpoints.{spec.key}.{alert.threshold_from}).",
        opts=opts,
    )


def drift_monitor(
    spec: EndpointSpec, drift: DriftMonitorConfig, warehouse: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> databricks.QualityMonitor:
    """A Lakehouse monitor, inference-log profile, on the payload table (or the table `drift` names)."""
    table_name = drift.table or payload_table(spec)
    assert table_name is not None  # the config refuses a drift monitor without a table
    return databricks.QualityMonitor(
        f"{spec.key}-drift-monitor",
        table_name=table_name,
        output_schema_name=drift.output_schema,
        assets_dir=drift.assets_dir or f"{ASSETS_ROOT}/{spec.name}",
        inference_log=databricks.QualityMonitorInferenceLogArgs(
            problem_type=PROBLEM_TYPES[drift.problem_type.value],
            prediction_col=drift.prediction_column,
            label_col=drift.label_column,
            timestamp_col=drift.timestamp_column,
            model_id_col=drift.model_id_column,
            granularities=list(drift.granularities),
        ),
        schedule=databricks.QualityMonitorScheduleArgs(
            quartz_cron_expression=drift.schedule.quartz_cron, timezone_id=drift.schedule.timezone
        ),
        warehouse_id=warehouse,
        # The provider keeps a monitor's warehouse and sends its table as the monitor's identity
        # (catalog/resource_quality_monitor.go): another warehouse applies to a new monitor only, another
        # table is a new monitor.
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(ignore_changes=["warehouseId"], replace_on_changes=["tableName"])
        ),
    )


def declare_monitoring(
    spec: EndpointSpec,
    *,
    parent: pulumi.Resource,
    endpoint: databricks.ModelServing,
    destinations: Mapping[str, pulumi.Input[str]],
) -> EndpointMonitoring | None:
    """The endpoint's alerts and drift monitor, children of `parent`, after `endpoint`; None without monitoring."""
    monitoring = spec.endpoint.monitoring
    if monitoring is None:
        return None
    plan = alert_plan(monitoring, spec.endpoint.rollout)
    warehouse = warehouse_id(monitoring, parent)
    notified = [destinations[name] for name in monitoring.notify]
    opts = pulumi.ResourceOptions(parent=parent, depends_on=[endpoint])
    alerts = {alert.kind: _alert(spec, alert, plan, warehouse, notified, opts) for alert in plan.alerts}
    monitor = drift_monitor(spec, monitoring.drift, warehouse, opts) if monitoring.drift else None
    return EndpointMonitoring(alerts=alerts, drift_monitor=monitor)
