"""What the program declares for `monitoring` and `notification_destinations`, under Pulumi's mock engine.

The real `__main__.py` runs with a copy of Pulumi.prod.yaml given a monitoring block: the alerts are
`databricks.AlertV2` children of the endpoint's component, after its ModelServing, with the health gate's
thresholds; destinations are `databricks.NotificationDestination`s whose secrets stay secret.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import StackConfigError
from review.engine import WorkspaceMocks, is_secret, run_program, unwrap
from tests.support import ENDPOINTS_KEY, PAGERDUTY_KEY, SLACK_URL, monitored, run_prod

ALERT = "databricks:index/alertV2:AlertV2"
DESTINATION = "databricks:index/notificationDestination:NotificationDestination"
MONITOR = "databricks:index/qualityMonitor:QualityMonitor"
GET_WAREHOUSE = "databricks:index/getSqlWarehouse:getSqlWarehouse"
PAYLOAD = "`main`.`serving_logs`.`risk_classifier_gateway_payload`"


class CountingMocks(WorkspaceMocks):
    """The review's mocks, counting the data sources the program asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        return super().call(args)


def of_type(program_run, type_: str) -> dict[str, Any]:
    return {resource.name: resource for resource in program_run.resources if resource.type == type_}


@pytest.fixture
def monitored_run(prod_document):
    return run_prod(monitored(prod_document))


def test_each_alert_is_an_alert_v2_child_of_the_endpoint_after_its_model_serving(monitored_run):
    alerts = of_type(monitored_run, ALERT)
    assert sorted(alerts) == [
        "risk-classifier-alert-error-rate",
        "risk-classifier-alert-latency",
        "risk-classifier-alert-volume-drop",
    ]
    component = monitored_run.named("risk-classifier").urn
    endpoint = monitored_run.named("risk-classifier-endpoint").urn
    for alert in alerts.values():
        assert alert.parent == component
        assert endpoint in alert.dependencies


def test_the_alerts_page_at_the_health_gates_thresholds(monitored_run):
    # Pulumi.prod.yaml: rollout.health max_error_rate 0.01, max_p95_latency_ms 300, min_requests 50.
    evaluations = {name: unwrap(alert.inputs)["evaluation"] for name, alert in of_type(monitored_run, ALERT).items()}
    assert {name: e["threshold"]["value"]["doubleValue"] for name, e in evaluations.items()} == {
        "risk-classifier-alert-latency": 300,
        "risk-classifier-alert-error-rate": 0.01,
        "risk-classifier-alert-volume-drop": 0.5,
    }
    assert {e["source"]["name"] for e in evaluations.values()} == {"p95_latency_ms", "error_rate", "volume_drop"}
    assert {e["comparisonOperator"] for e in evaluations.values()} == {"GREATER_THAN"}
    latency = unwrap(monitored_run.named("risk-classifier-alert-latency").inputs)["queryText"]
    assert "percentile_approx(execution_duration_ms, 0.95)" in latency and ">= 50 THEN" in latency


def test_a_changed_health_gate_moves_the_alert_with_it(prod_document):
    document = monitored(prod_document)
    document["config"][ENDPOINTS_KEY]["risk-classifier"]["rollout"]["health"]["max_error_rate"] = 0.03
    alert = run_prod(document).named("risk-classifier-alert-error-rate")
    assert unwrap(alert.inputs)["evaluation"]["threshold"]["value"]["doubleValue"] == 0.03


def test_the_alerts_read_the_endpoints_inference_table_on_the_declared_schedule(monitored_run):
    alert = unwrap(monitored_run.named("risk-classifier-alert-error-rate").inputs)
    assert alert["queryText"] == (
        "SELECT CASE WHEN SUM(1.0 / COALESCE(sampling_fraction, 1.0)) >= 50 THEN SUM(CASE WHEN status_code >= 500 "
        "THEN 1.0 / COALESCE(sampling_fraction, 1.0) ELSE 0 END) / SUM(1.0 / COALESCE(sampling_fraction, 1.0)) "
        f"ELSE 0 END AS error_rate FROM {PAYLOAD} WHERE request_date >= date_sub(current_date(), 2) "
        "AND request_time >= current_timestamp() - INTERVAL 15 MINUTES"
    )
    assert alert["schedule"] == {
        "quartzCronSchedule": "0 0/5 * * * ?",
        "timezoneId": "UTC",
        "pauseStatus": "UNPAUSED",
    }
    assert alert["displayName"] == "prod-risk-classifier error-rate"
    assert alert["customSummary"] == "prod-risk-classifier: 5xx rate above 1.00%"


def test_the_volume_alert_compares_the_window_with_the_same_window_a_week_earlier(monitored_run):
    query = unwrap(monitored_run.named("risk-classifier-alert-volume-drop").inputs)["queryText"]
    assert "request_time >= current_timestamp() - INTERVAL 10095 MINUTES" in query
    assert "request_time < current_timestamp() - INTERVAL 10080 MINUTES" in query
    assert "GREATEST(1 - current_requests / baseline_requests, 0)" in query


def test_the_warehouse_is_looked_up_by_name_once_per_endpoint(prod_document):
    mocks = CountingMocks()
    program_run = run_prod(monitored(prod_document), mocks)
    assert [call for call in mocks.calls if call[0] == GET_WAREHOUSE] == [
        (GET_WAREHOUSE, {"name": "serving-monitoring"})
    ]
    found = WorkspaceMocks().call(type("Args", (), {"token": GET_WAREHOUSE, "args": {"name": "serving-monitoring"}}))
    ids = {unwrap(alert.inputs)["warehouseId"] for alert in of_type(program_run, ALERT).values()}
    assert ids == {found[0]["id"]}


def test_a_warehouse_id_is_used_as_given(prod_document):
    mocks = CountingMocks()
    document = monitored(prod_document, warehouse_id="a1b2c3d4e5f6a7b8")
    del document["config"][ENDPOINTS_KEY]["risk-classifier"]["monitoring"]["warehouse"]
    program_run = run_prod(document, mocks)
    assert GET_WAREHOUSE not in [token for token, _ in mocks.calls]
    assert {unwrap(a.inputs)["warehouseId"] for a in of_type(program_run, ALERT).values()} == {"a1b2c3d4e5f6a7b8"}


def test_the_alerts_notify_the_named_destinations(monitored_run):
    ids = {name: monitored_run.named(f"destination-{name}").urn for name in ("oncall", "ml-slack")}
    alert = monitored_run.named("risk-classifier-alert-latency")
    subscriptions = unwrap(alert.inputs)["evaluation"]["notification"]["subscriptions"]
    assert len(subscriptions) == 2 and all(set(item) == {"destinationId"} for item in subscriptions)
    assert set(ids.values()) <= set(alert.dependencies)
    assert unwrap(alert.inputs)["evaluation"]["notification"]["notifyOnOk"] is True


def test_destinations_are_declared_once_for_the_stack_with_the_prefix_in_their_name(monitored_run):
    destinations = of_type(monitored_run, DESTINATION)
    assert {name: unwrap(d.inputs)["displayName"] for name, d in destinations.items()} == {
        "destination-oncall": "prod-oncall",
        "destination-ml-slack": "prod-ml-slack",
        "destination-ml-mail": "prod-ml-mail",
    }
    assert unwrap(destinations["destination-ml-mail"].inputs)["config"] == {
        "email": {"addresses": ["ml-platform@example.com"]}
    }


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("destination-oncall", {"pagerduty": {"integrationKey": PAGERDUTY_KEY}}),
        ("destination-ml-slack", {"slack": {"url": SLACK_URL}}),
    ],
)
def test_a_destinations_secret_is_a_secret_input_and_a_secret_output(monitored_run, name, config):
    destination = monitored_run.named(name)
    assert unwrap(destination.inputs)["config"] == config
    assert is_secret(destination.inputs["config"])
    assert destination.additional_secret_outputs == ("config",)


def test_no_destination_secret_reaches_the_stack_outputs_or_any_plain_input(monitored_run):
    outputs = json.dumps(unwrap(monitored_run.outputs), default=str)
    assert PAGERDUTY_KEY not in outputs and SLACK_URL not in outputs
    for resource in monitored_run.resources:
        plain = {key: value for key, value in resource.inputs.items() if not is_secret(value)}
        text = json.dumps(unwrap(plain), default=str)
        assert PAGERDUTY_KEY not in text and SLACK_URL not in text, resource.name


def test_a_plaintext_secret_in_the_stack_file_fails_before_anything_is_declared(prod_document):
    document = monitored(prod_document)
    document["config"]["databricks-serving:pagerduty-key"] = PAGERDUTY_KEY
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", document=document, secret_values={"databricks-serving:slack-url": SLACK_URL})
    assert caught.value.problems == [
        "notification_destinations.oncall.pagerduty.integration_key_secret = [hidden]: "
        "`databricks-serving:pagerduty-key` holds the integration key in plain text in the stack file; store it "
        "encrypted: `pulumi config set --secret pagerduty-key <integration key>`"
    ]
    assert PAGERDUTY_KEY not in str(caught.value)


def test_a_missing_secret_config_key_fails_naming_the_command(prod_document):
    document = monitored(prod_document)
    del document["config"]["databricks-serving:slack-url"]
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", document=document, secret_values={"databricks-serving:pagerduty-key": PAGERDUTY_KEY})
    assert caught.value.problems == [
        "notification_destinations.ml-slack.slack.url_secret = [hidden]: names `databricks-serving:slack-url`, "
        "which this stack does not set: `pulumi config set --secret slack-url <webhook URL>`"
    ]


def test_without_an_inference_table_the_alerts_read_the_serving_system_tables(prod_document):
    document = monitored(prod_document, alerts={"latency": {"enabled": False}})
    fraud = document["config"][ENDPOINTS_KEY]["fraud-scorer"]
    fraud["monitoring"] = document["config"][ENDPOINTS_KEY]["risk-classifier"].pop("monitoring")
    program_run = run_prod(document)
    assert sorted(of_type(program_run, ALERT)) == ["fraud-scorer-alert-error-rate", "fraud-scorer-alert-volume-drop"]
    query = unwrap(program_run.named("fraud-scorer-alert-error-rate").inputs)["queryText"]
    assert query == (
        "SELECT CASE WHEN SUM(1.0) >= 20 THEN SUM(CASE WHEN status_code >= 500 THEN 1.0 ELSE 0 END) / SUM(1.0) "
        "ELSE 0 END AS error_rate FROM system.serving.endpoint_usage WHERE request_time >= current_timestamp() - "
        "INTERVAL 15 MINUTES AND served_entity_id IN (SELECT served_entity_id FROM system.serving.served_entities "
        "WHERE endpoint_name = 'prod-fraud-scorer')"
    )


def test_the_drift_monitor_profiles_the_payload_table(prod_document):
    drift = {
        "problem_type": "classification",
        "prediction_column": "prediction",
        "label_column": "defaulted",
        "output_schema": "main.serving_monitoring",
        "granularities": ["1 hour", "1 day"],
    }
    program_run = run_prod(monitored(prod_document, drift=drift))
    (monitor,) = of_type(program_run, MONITOR).values()
    assert monitor.name == "risk-classifier-drift-monitor"
    inputs = unwrap(monitor.inputs)
    warehouse = unwrap(program_run.named("risk-classifier-alert-latency").inputs)["warehouseId"]
    assert inputs == {
        "tableName": "main.serving_logs.risk_classifier_gateway_payload",
        "outputSchemaName": "main.serving_monitoring",
        "assetsDir": "/Shared/databricks-serving/monitoring/prod-risk-classifier",
        "inferenceLog": {
            "problemType": "PROBLEM_TYPE_CLASSIFICATION",
            "predictionCol": "prediction",
            "labelCol": "defaulted",
            "timestampCol": "request_time",
            "modelIdCol": "served_entity_id",
            "granularities": ["1 hour", "1 day"],
        },
        "schedule": {"quartzCronExpression": "0 0 3 * * ?", "timezoneId": "UTC"},
        "warehouseId": warehouse,
    }
    assert program_run.named("risk-classifier-endpoint").urn in monitor.dependencies


def test_a_stack_without_monitoring_declares_no_alert_monitor_or_destination(stack_runs):
    assert [r.name for r in stack_runs["dev"].resources if r.type in (ALERT, MONITOR, DESTINATION)] == []


def test_a_destination_given_by_id_is_notified_and_not_declared(prod_document):
    document = monitored(prod_document)
    document["config"]["databricks-serving:notification_destinations"]["oncall"] = {
        "id": "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"
    }
    del document["config"]["databricks-serving:pagerduty-key"]  # no destination reads it any more
    program_run = run_program("prod", document=document, secret_values={"databricks-serving:slack-url": SLACK_URL})
    assert sorted(of_type(program_run, DESTINATION)) == ["destination-ml-mail", "destination-ml-slack"]
    alert = unwrap(program_run.named("risk-classifier-alert-latency").inputs)
    subscriptions = alert["evaluation"]["notification"]["subscriptions"]
    assert subscriptions[0] == {"destinationId": "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"}
    assert len(subscriptions) == 2
