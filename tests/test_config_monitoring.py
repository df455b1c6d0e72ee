"""The rules of `endpoints.<key>.monitoring` and `notification_destinations`, one test each, and the thresholds
the alerts share with the rollout's health gate (`alert_plan`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import AlertKind, StackConfigError, alert_plan, parse_stack_config, secret_config_keys
from components.config.schedules import quartz_cron_problem, time_zone_problem

SP = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"
PAGERDUTY_KEY = "0123456789abcdef0123456789abcdef"
BASE: dict[str, Any] = {
    "defaults": {"name_prefix": "prod-"},
    "notification_destinations": {
        "oncall": {"pagerduty": {"integration_key_secret": "pagerduty-oncall-key"}},
        "ml-mail": {"email": ["ml-platform@example.com"]},
    },
    "endpoints": {
        "risk": {
            "served_models": [
                {"model": "main.risk.risk_classifier", "version": 3, "workload_size": "Medium"},
                {"model": "main.risk.risk_classifier", "version": 4, "workload_size": "Medium"},
            ],
            "traffic": {"risk_classifier-3": 90, "risk_classifier-4": 10},
            "access": {"query_service_principal": SP},
            "inference_table": {"catalog": "main", "schema": "serving_logs"},
            "readiness": {"warmup": {"input_example": {"inputs": [[1.0]]}}},
            "rollout": {
                "stable": "risk_classifier-3",
                "candidate": "risk_classifier-4",
                "steps": [10, 100],
                "health": {"max_error_rate": 0.02, "max_p95_latency_ms": 250, "min_requests": 40},
            },
            "monitoring": {"warehouse": "serving-monitoring", "notify": ["oncall", "ml-mail"]},
        }
    },
}
SECRETS = {"pagerduty-oncall-key": True}


def parsed(change=None, config_secrets=SECRETS):
    values = copy.deepcopy(BASE)
    if change:
        change(values)
    return parse_stack_config("prod", values, config_secrets=config_secrets)


def problems_of(change, config_secrets=SECRETS) -> list[str]:
    with pytest.raises(StackConfigError) as caught:
        parsed(change, config_secrets)
    return caught.value.problems


def risk(values: dict[str, Any]) -> dict[str, Any]:
    return values["endpoints"]["risk"]


def monitoring(values: dict[str, Any]) -> dict[str, Any]:
    return risk(values)["monitoring"]


def plan_of(config):
    endpoint = config.endpoints["risk"]
    return alert_plan(endpoint.monitoring, endpoint.rollout)


# --- the thresholds the alerts share with the health gate --------------------------------------------


def test_the_alerts_take_the_health_gates_thresholds_by_default():
    plan = plan_of(parsed())
    assert [(a.kind, a.threshold, a.threshold_from) for a in plan.alerts] == [
        (AlertKind.LATENCY, 250, "rollout.health.max_p95_latency_ms"),
        (AlertKind.ERROR_RATE, 0.02, "rollout.health.max_error_rate"),
        (AlertKind.VOLUME_DROP, 0.5, "monitoring.alerts.volume_drop.max_drop"),
    ]
    assert plan.alerts[0].percentile == 95
    assert (plan.min_requests, plan.min_requests_from) == (40, "rollout.health.min_requests")


def test_an_override_in_monitoring_wins_over_the_health_gate():
    def change(values):
        monitoring(values).update(
            min_requests=200,
            alerts={"latency": {"percentile": 99, "max_ms": 800}, "error_rate": {"max": 0.05}},
        )

    plan = plan_of(parsed(change))
    latency, error_rate, _ = plan.alerts
    assert (latency.percentile, latency.threshold, latency.threshold_from) == (
        99,
        800,
        "monitoring.alerts.latency.max_ms",
    )
    assert (error_rate.threshold, error_rate.threshold_from) == (0.05, "monitoring.alerts.error_rate.max")
    assert (plan.min_requests, plan.min_requests_from) == (200, "monitoring.min_requests")


def test_without_a_rollout_the_alerts_take_the_health_gates_defaults():
    def change(values):
        del risk(values)["rollout"]

    plan = plan_of(parsed(change))
    assert [(a.threshold, a.threshold_from) for a in plan.alerts[:2]] == [
        (1000, "rollout.health (default).max_p95_latency_ms"),
        (0.01, "rollout.health (default).max_error_rate"),
    ]
    assert plan.min_requests == 20


def test_a_disabled_alert_is_left_out():
    plan = plan_of(parsed(lambda v: monitoring(v).update(alerts={"volume_drop": {"enabled": False}})))
    assert [alert.kind for alert in plan.alerts] == [AlertKind.LATENCY, AlertKind.ERROR_RATE]


@pytest.mark.parametrize(("baseline", "offset"), [("previous_window", 15), ("previous_day", 1440)])
def test_the_volume_baseline_is_the_window_it_names(baseline, offset):
    plan = plan_of(parsed(lambda v: monitoring(v).update(alerts={"volume_drop": {"baseline": baseline}})))
    assert plan.baseline_offset_minutes == offset


def test_another_percentile_needs_its_own_latency_threshold():
    problems = problems_of(lambda v: monitoring(v).update(alerts={"latency": {"percentile": 99}}))
    assert problems == [
        "endpoints.risk.monitoring.alerts.latency: needs max_ms for percentile 99: the health gate's "
        "threshold (rollout.health.max_p95_latency_ms) is for p95"
    ]


# --- the block's own rules ----------------------------------------------------------------------------


def test_monitoring_needs_exactly_one_warehouse():
    problems = problems_of(lambda v: monitoring(v).update(warehouse_id="a1b2c3d4e5f6a7b8"))
    assert problems == [
        "endpoints.risk.monitoring: needs exactly one of warehouse (the SQL warehouse's name) and warehouse_id"
    ]


def test_monitoring_needs_a_destination_to_notify():
    problems = problems_of(lambda v: monitoring(v).update(notify=[]))
    assert problems == ["endpoints.risk.monitoring.notify = []: must have at least 1 entry, it has 0"]


def test_a_destination_not_declared_is_named_with_the_declared_ones():
    problems = problems_of(lambda v: monitoring(v).update(notify=["oncall", "slack-ml"]))
    assert problems == [
        "endpoints.risk.monitoring.notify[1] = 'slack-ml': `slack-ml` is not declared under "
        "notification_destinations (ml-mail, oncall)"
    ]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("window_minutes", 2, "greater than or equal to 5"),
        ("window_minutes", 2000, "less than or equal to 1440"),
        ("min_requests", 0, "greater than or equal to 1"),
    ],
)
def test_window_and_minimum_requests_are_bounded(key, value, expected):
    (problem,) = problems_of(lambda v: monitoring(v).update({key: value}))
    assert problem.startswith(f"endpoints.risk.monitoring.{key} = {value}: ") and expected in problem


@pytest.mark.parametrize(
    ("alert", "values", "path"),
    [
        ("error_rate", {"max": 1.5}, "error_rate.max"),
        ("latency", {"max_ms": 0}, "latency.max_ms"),
        ("latency", {"percentile": 100, "max_ms": 5}, "latency.percentile"),
        ("volume_drop", {"max_drop": 1}, "volume_drop.max_drop"),
    ],
)
def test_thresholds_are_in_range(alert, values, path):
    (problem,) = problems_of(lambda v: monitoring(v).update(alerts={alert: values}))
    assert problem.startswith(f"endpoints.risk.monitoring.alerts.{path} = ")


def test_the_latency_alert_needs_the_inference_table():
    def change(values):
        del risk(values)["inference_table"]
        risk(values)["ai_gateway"] = {"usage_tracking": True}

    assert problems_of(change) == [
        "endpoints.risk.monitoring: the latency alert reads execution_duration_ms from the endpoint's inference "
        "table (the system.serving tables record no latency): declare an enabled inference_table, or set "
        "monitoring.alerts.latency.enabled: false"
    ]


def test_without_an_inference_table_the_alerts_need_usage_tracking():
    def change(values):
        del risk(values)["inference_table"]
        monitoring(values)["alerts"] = {"latency": {"enabled": False}}

    assert problems_of(change) == [
        "endpoints.risk.monitoring: the 5xx-rate and volume alerts read the inference table or the "
        "system.serving tables: declare an enabled inference_table, or set ai_gateway.usage_tracking: true"
    ]


def test_a_disabled_inference_table_records_nothing_to_alert_on():
    def change(values):
        risk(values)["inference_table"]["enabled"] = False
        monitoring(values)["alerts"] = {"latency": {"enabled": False}}
        risk(values)["ai_gateway"] = {"usage_tracking": True}

    config = parsed(change)
    assert [alert.kind for alert in plan_of(config).alerts] == [AlertKind.ERROR_RATE, AlertKind.VOLUME_DROP]


def test_the_drift_monitor_needs_an_inference_table_or_a_table():
    drift = {"problem_type": "regression", "prediction_column": "prediction", "output_schema": "main.monitoring"}

    def change(values):
        risk(values)["inference_table"]["enabled"] = False
        risk(values)["ai_gateway"] = {"usage_tracking": True}
        monitoring(values).update(alerts={"latency": {"enabled": False}}, drift=drift)

    assert problems_of(change) == [
        "endpoints.risk.monitoring.drift: needs an inference table to profile: declare an enabled "
        "inference_table, or name the table (monitoring.drift.table)"
    ]
    config = parsed(lambda v: (change(v), monitoring(v)["drift"].update(table="main.ml.risk_predictions")))
    assert config.endpoints["risk"].monitoring.drift.table == "main.ml.risk_predictions"


@pytest.mark.parametrize(
    ("drift", "problem"),
    [
        ({"granularities": ["2 days"]}, 'granularities = ["2 days"]: `2 days` not among 5 minutes, 30 minutes'),
        ({"output_schema": "monitoring"}, "output_schema = 'monitoring': must be `catalog.schema`"),
        ({"table": "main.payload"}, "table = 'main.payload': must be `catalog.schema.table`"),
        ({"problem_type": "ranking"}, "problem_type = 'ranking': "),
    ],
)
def test_the_drift_monitor_settings_are_checked(drift, problem):
    base = {"problem_type": "classification", "prediction_column": "prediction", "output_schema": "main.mon"}
    (found,) = problems_of(lambda v: monitoring(v).update(drift={**base, **drift}))
    assert found.startswith(f"endpoints.risk.monitoring.drift.{problem}")


def test_every_monitoring_problem_is_reported_at_once():
    def change(values):
        monitoring(values).update(
            warehouse_id="a1b2c3d4e5f6a7b8",
            notify=["nobody"],
            schedule={"quartz_cron": "*/5 * * * *", "timezone": "Mars/Olympus"},
        )

    problems = problems_of(change)
    assert [problem.split(":")[0].split(" = ")[0] for problem in problems] == [
        "endpoints.risk.monitoring.schedule.quartz_cron",
        "endpoints.risk.monitoring.schedule.timezone",
        "endpoints.risk.monitoring",
        "endpoints.risk.monitoring.notify[0]",
    ]


# --- schedules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["0 0/5 * * * ?", "0 30 6 ? * MON-FRI", "0 0 3 L * ?", "0 0 12 ? * 6#3 2030"])
def test_quartz_cron_expressions_databricks_takes_are_accepted(expression):
    assert quartz_cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("*/5 * * * *", "is a Unix cron line (5 fields); Databricks takes Quartz syntax"),
        ("0 0/5 * * * *", "exactly one of day of month (field 4) and day of week (field 6) must be `?`"),
        ("0 61 * * * ?", "`61` is out of range for minutes (0-59)"),
        ("0 0 3 * FOO ?", "`FOO` is out of range for month (1-12)"),
        ("? 0 3 * * ?", "`?` is only for day of month or day of week, not seconds"),
        ("0 0/0 * * * ?", "a step of 0 in `0/0` never fires"),
        ("0 0", "needs 6 or 7 fields"),
    ],
)
def test_quartz_cron_problems_are_named(expression, problem):
    assert quartz_cron_problem(expression).startswith(problem)


def test_time_zones_are_iana_names():
    assert time_zone_problem("Europe/Berlin") is None
    assert time_zone_problem("CEST") == "is not a time zone id; write an IANA name such as `UTC` or `Europe/Berlin`"


# --- destinations and their secrets -----------------------------------------------------------------


def test_a_destination_is_exactly_one_kind():
    def change(values):
        values["notification_destinations"]["ml-mail"]["slack"] = {"url_secret": "slack-url"}

    assert problems_of(change, {**SECRETS, "slack-url": True}) == [
        "notification_destinations.ml-mail: needs exactly one of email, slack, pagerduty, id; found email, slack"
    ]


def test_a_destination_the_admins_manage_is_named_by_its_id():
    def change(values):
        values["notification_destinations"]["ml-mail"] = {"id": "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"}

    destination = parsed(change, SECRETS).notification_destinations["ml-mail"]
    assert (destination.id, destination.kind, destination.declared) == (
        "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c",
        "id",
        False,
    )


def test_a_destination_id_is_a_uuid_and_keeps_its_own_display_name():
    def change(values):
        values["notification_destinations"]["ml-mail"] = {"id": "ml-platform-oncall", "display_name": "oncall"}

    assert problems_of(change, SECRETS) == [
        "notification_destinations.ml-mail.id = 'ml-platform-oncall': `ml-platform-oncall` is not a destination id "
        "(a UUID)",
        "notification_destinations.ml-mail.display_name = 'oncall': names a declared destination; an `id` keeps "
        "its own",
    ]


def test_a_plaintext_secret_config_key_fails_without_showing_its_value():
    problems = problems_of(lambda v: None, {"pagerduty-oncall-key": False})
    assert problems == [
        "notification_destinations.oncall.pagerduty.integration_key_secret = [hidden]: "
        "`databricks-serving:pagerduty-oncall-key` holds the integration key in plain text in the stack file; "
        "store it encrypted: `pulumi config set --secret pagerduty-oncall-key <integration key>`"
    ]


def test_a_secret_config_key_the_stack_does_not_set_is_named():
    (problem,) = problems_of(lambda v: None, {})
    assert problem.endswith(
        "names `databricks-serving:pagerduty-oncall-key`, which this stack does not set: "
        "`pulumi config set --secret pagerduty-oncall-key <integration key>`"
    )


@pytest.mark.parametrize("value", [PAGERDUTY_KEY + "!", "https://hooks.slack.com/services/T000/B000/XXXX"])
def test_a_secret_written_in_the_stack_file_fails_and_is_not_shown(value):
    def change(values):
        values["notification_destinations"]["oncall"] = {"slack": {"url_secret": value}}

    (problem,) = problems_of(change)
    assert problem.startswith("notification_destinations.oncall.slack.url_secret = [hidden]: names the config key")
    assert value not in problem


def test_destination_keys_name_resources():
    def change(values):
        values["notification_destinations"]["on call"] = values["notification_destinations"].pop("oncall")
        monitoring(values)["notify"] = ["on call"]

    assert problems_of(change) == [
        'notification_destinations."on call": destination names may only hold letters, digits, `-` and `_`: '
        "the name names its resource"
    ]


def test_the_secret_config_keys_are_read_from_the_raw_destinations():
    values = copy.deepcopy(BASE)
    values["notification_destinations"]["ml-slack"] = {"slack": {"url_secret": "slack-url"}}
    values["notification_destinations"]["bad"] = {"slack": {"url_secret": "https://hooks.slack.com/x"}}
    assert secret_config_keys(values) == ["pagerduty-oncall-key", "slack-url"]
