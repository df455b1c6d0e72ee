"""A tiny Pulumi program for tests/e2e/test_monitoring_resources.py: one of each monitoring resource the
databricks stand-in serves (a PagerDuty destination, an alert on its warehouse, a quality monitor), run by the
real engine in place of the project's `__main__.py`. `alertThreshold` in the stack config moves the alert."""

import pulumi
import pulumi_databricks as databricks

config = pulumi.Config()
TABLE = "main.serving_logs.risk_classifier_payload"

warehouse = databricks.get_sql_warehouse(name="serving-alerts")
pager = databricks.NotificationDestination(
    "risk-pager",
    display_name="risk pager",
    config=databricks.NotificationDestinationConfigArgs(
        pagerduty=databricks.NotificationDestinationConfigPagerdutyArgs(
            integration_key=config.require_secret("pagerKey")
        )
    ),
)
alert = databricks.AlertV2(
    "risk-p99",
    display_name="risk p99 latency",
    query_text=f"SELECT percentile(latency_ms, 0.99) AS p99 FROM {TABLE}",
    warehouse_id=warehouse.id,
    evaluation=databricks.AlertV2EvaluationArgs(
        source=databricks.AlertV2EvaluationSourceArgs(name="p99"),
        comparison_operator="GREATER_THAN",
        threshold=databricks.AlertV2EvaluationThresholdArgs(
            value=databricks.AlertV2EvaluationThresholdValueArgs(
                double_value=config.get_float("alertThreshold") or 250.0
            )
        ),
        notification=databricks.AlertV2EvaluationNotificationArgs(
            subscriptions=[databricks.AlertV2EvaluationNotificationSubscriptionArgs(destination_id=pager.id)]
        ),
    ),
    schedule=databricks.AlertV2ScheduleArgs(quartz_cron_schedule="0 0/5 * * * ?", timezone_id="UTC"),
)
monitor = databricks.QualityMonitor(
    "risk-drift",
    table_name=TABLE,
    assets_dir="/Shared/monitors/risk",
    output_schema_name="main.serving_logs",
    inference_log=databricks.QualityMonitorInferenceLogArgs(
        problem_type="PROBLEM_TYPE_CLASSIFICATION",
        prediction_col="prediction",
        timestamp_col="timestamp",
        model_id_col="served_entity_id",
        granularities=["1 hour"],
    ),
    warehouse_id=warehouse.id,
)
pulumi.export("destinationId", pager.id)
pulumi.export("pagerConfig", pager.config)
pulumi.export("alertId", alert.id)
pulumi.export("monitorStatus", monitor.status)
