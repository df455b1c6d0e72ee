"""The monitoring APIs through databricks-sdk's WorkspaceClient: SQL warehouses, notification destinations,
alerts v2 and quality monitors, as the provider calls them for alerts and monitors as code."""

from __future__ import annotations

import time

import pytest
from databricks.sdk.errors import InvalidParameterValue, NotFound, PermissionDenied, ResourceAlreadyExists
from databricks.sdk.service import catalog, settings, sql

from emulator.testing import running_emulator
from tests.emulator.support import DEPLOYER, FAST

TABLE = "main.serving_logs.risk_classifier_payload"
SCHEMA = "main.serving_logs"
WAREHOUSE = "serving-alerts"


@pytest.fixture(scope="module")
def emu():
    # One warehouse, no destinations made beforehand: each test makes what it reads.
    monitoring = {
        "tables": [TABLE],
        "monitor_pending_seconds": 0.2,
        "sql_warehouses": [WAREHOUSE],
        "notification_destinations": {},
    }
    with running_emulator(**FAST, monitoring=monitoring) as emu:
        yield emu


@pytest.fixture
def admin(emu):
    emu.reset()
    return emu.workspace_client(emu.token("admin@example.com"))


@pytest.fixture
def deployer(emu, admin):
    return emu.workspace_client(emu.token(DEPLOYER))


def _warehouse_id(w) -> str:
    return next(wh.id for wh in w.warehouses.list() if wh.name == WAREHOUSE)


def _alert(warehouse_id: str, destination_id: str | None = None, threshold: float = 0.5) -> sql.AlertV2:
    subscriptions = [sql.AlertV2Subscription(destination_id=destination_id)] if destination_id else []
    return sql.AlertV2(
        display_name="risk p99 latency",
        query_text="SELECT percentile(latency_ms, 0.99) AS p99 FROM main.serving_logs.risk_classifier_payload",
        warehouse_id=warehouse_id,
        evaluation=sql.AlertV2Evaluation(
            source=sql.AlertV2OperandColumn(name="p99"),
            comparison_operator=sql.ComparisonOperator.GREATER_THAN,
            threshold=sql.AlertV2Operand(value=sql.AlertV2OperandValue(double_value=threshold)),
            notification=sql.AlertV2Notification(subscriptions=subscriptions),
        ),
        schedule=sql.CronSchedule(quartz_cron_schedule="0 0/5 * * * ?", timezone_id="UTC"),
    )


# --- SQL warehouses ------------------------------------------------------------------------------------


def test_the_seeded_warehouse_is_listed_running_and_read_by_id(deployer):
    listed = [wh for wh in deployer.warehouses.list() if wh.name == WAREHOUSE]
    assert len(listed) == 1
    got = deployer.warehouses.get(listed[0].id)
    assert (got.name, got.state, got.odbc_params.path) == (
        WAREHOUSE,
        sql.State.RUNNING,
        f"/sql/1.0/warehouses/{got.id}",
    )


def test_a_data_source_maps_the_warehouse_name_to_its_id(deployer):
    sources = deployer.data_sources.list()
    assert [(s.name, s.warehouse_id) for s in sources] == [(WAREHOUSE, _warehouse_id(deployer))]


def test_an_unknown_warehouse_is_not_found(deployer):
    with pytest.raises(NotFound):
        deployer.warehouses.get("0123456789abcdef")


# --- notification destinations -------------------------------------------------------------------------


def _slack(url: str = "https://hooks.slack.example/T0/B0/secret-part") -> settings.Config:
    return settings.Config(slack=settings.SlackConfig(url=url))


def test_a_destination_answers_that_its_secret_is_set_never_the_secret(admin):
    created = admin.notification_destinations.create(display_name="risk on-call", config=_slack())
    got = admin.notification_destinations.get(created.id)
    assert got.destination_type == settings.DestinationType.SLACK
    assert (got.config.slack.url, got.config.slack.url_set) == (None, True)
    assert "secret-part" not in str(got.as_dict()) + str(created.as_dict())


def test_pagerduty_integration_key_is_write_only(admin):
    config = settings.Config(pagerduty=settings.PagerdutyConfig(integration_key="pd-integration-key-1234"))
    created = admin.notification_destinations.create(display_name="risk pager", config=config)
    assert created.destination_type == settings.DestinationType.PAGERDUTY
    assert created.config.pagerduty.as_dict() == {"integration_key_set": True}


def test_email_addresses_are_answered(admin):
    config = settings.Config(email=settings.EmailConfig(addresses=["oncall@example.com"]))
    created = admin.notification_destinations.create(display_name="risk mail", config=config)
    assert admin.notification_destinations.get(created.id).config.email.addresses == ["oncall@example.com"]


def test_only_workspace_admins_create_destinations(deployer):
    with pytest.raises(PermissionDenied, match="admins"):
        deployer.notification_destinations.create(display_name="risk on-call", config=_slack())


def test_a_config_must_wrap_exactly_one_kind(admin):
    both = settings.Config(slack=settings.SlackConfig(url="https://a"), email=settings.EmailConfig(addresses=["a@b"]))
    with pytest.raises(InvalidParameterValue, match="exactly one"):
        admin.notification_destinations.create(display_name="two", config=both)


def test_update_renames_and_keeps_the_secret_left_out(admin):
    created = admin.notification_destinations.create(display_name="old", config=_slack())
    updated = admin.notification_destinations.update(created.id, display_name="new")
    assert (updated.display_name, updated.config.slack.url_set) == ("new", True)


def test_update_cannot_change_the_kind(admin):
    created = admin.notification_destinations.create(display_name="old", config=_slack())
    email = settings.Config(email=settings.EmailConfig(addresses=["a@example.com"]))
    with pytest.raises(InvalidParameterValue, match="from SLACK to EMAIL"):
        admin.notification_destinations.update(created.id, display_name="old", config=email)


def test_list_and_delete(admin, deployer):
    created = admin.notification_destinations.create(display_name="gone soon", config=_slack())
    assert [d.id for d in deployer.notification_destinations.list()] == [created.id]
    admin.notification_destinations.delete(created.id)
    with pytest.raises(NotFound):
        admin.notification_destinations.get(created.id)


# --- alerts v2 -----------------------------------------------------------------------------------------


def test_create_fills_the_server_fields(admin, deployer):
    destination = admin.notification_destinations.create(display_name="pager", config=_slack())
    created = deployer.alerts_v2.create_alert(_alert(_warehouse_id(deployer), destination.id))
    got = deployer.alerts_v2.get_alert(created.id)
    assert got.lifecycle_state == sql.AlertLifecycleState.ACTIVE
    assert (got.owner_user_name, got.effective_run_as.service_principal_name) == (DEPLOYER, DEPLOYER)
    assert got.evaluation.state == sql.AlertEvaluationState.UNKNOWN
    assert got.evaluation.threshold.value.double_value == 0.5
    assert got.evaluation.notification.subscriptions[0].destination_id == destination.id


def test_create_names_every_problem_at_once(deployer):
    alert = _alert("0123456789abcdef", destination_id="no-such-destination")
    alert.evaluation.comparison_operator = None
    with pytest.raises(InvalidParameterValue) as raised:
        deployer.alerts_v2.create_alert(alert)
    message = str(raised.value)
    assert "SQL warehouse 0123456789abcdef does not exist" in message
    assert "comparison_operator" in message
    assert "notification destination no-such-destination does not exist" in message


def test_update_replaces_the_fields_of_the_mask(deployer):
    created = deployer.alerts_v2.create_alert(_alert(_warehouse_id(deployer)))
    changed = _alert(_warehouse_id(deployer), threshold=0.8)
    changed.display_name = "risk p99 latency (tight)"
    updated = deployer.alerts_v2.update_alert(created.id, changed, "display_name,evaluation")
    assert (updated.display_name, updated.evaluation.threshold.value.double_value) == ("risk p99 latency (tight)", 0.8)
    assert updated.create_time == created.create_time


def test_update_needs_a_mask(deployer):
    created = deployer.alerts_v2.create_alert(_alert(_warehouse_id(deployer)))
    with pytest.raises(InvalidParameterValue, match="update_mask"):
        deployer.alerts_v2.update_alert(created.id, _alert(_warehouse_id(deployer)), "")


def test_trash_keeps_the_alert_readable_as_deleted_and_purge_removes_it(deployer):
    trashed = deployer.alerts_v2.create_alert(_alert(_warehouse_id(deployer)))
    purged = deployer.alerts_v2.create_alert(_alert(_warehouse_id(deployer)))
    deployer.alerts_v2.trash_alert(trashed.id)
    deployer.alerts_v2.trash_alert(purged.id, purge=True)
    assert deployer.alerts_v2.get_alert(trashed.id).lifecycle_state == sql.AlertLifecycleState.DELETED
    assert [a.id for a in deployer.alerts_v2.list_alerts()] == []
    with pytest.raises(NotFound):
        deployer.alerts_v2.get_alert(purged.id)


# --- quality monitors ----------------------------------------------------------------------------------


def _inference_log() -> catalog.MonitorInferenceLog:
    return catalog.MonitorInferenceLog(
        problem_type=catalog.MonitorInferenceLogProblemType.PROBLEM_TYPE_CLASSIFICATION,
        prediction_col="prediction",
        timestamp_col="timestamp",
        model_id_col="served_entity_id",
        granularities=["1 hour", "1 day"],
    )


def _create_monitor(w, table: str = TABLE) -> catalog.MonitorInfo:
    return w.quality_monitors.create(
        table_name=table,
        output_schema_name=SCHEMA,
        assets_dir="/Shared/monitors/risk",
        inference_log=_inference_log(),
        schedule=catalog.MonitorCronSchedule(quartz_cron_expression="0 0 * * * ?", timezone_id="UTC"),
    )


def test_a_monitor_is_pending_then_active_with_its_metric_tables_named(deployer):
    created = _create_monitor(deployer)
    assert created.status == catalog.MonitorInfoStatus.MONITOR_STATUS_PENDING
    assert created.profile_metrics_table_name == f"{SCHEMA}.risk_classifier_payload_profile_metrics"
    deadline = time.monotonic() + 5
    polls = 0
    while deployer.quality_monitors.get(TABLE).status != catalog.MonitorInfoStatus.MONITOR_STATUS_ACTIVE:
        polls += 1
        assert polls < 100 and time.monotonic() < deadline
        time.sleep(0.05)
    got = deployer.quality_monitors.get(TABLE)
    assert got.schedule.pause_status == catalog.MonitorCronSchedulePauseStatus.UNPAUSED
    assert got.inference_log.granularities == ["1 hour", "1 day"]


def test_a_monitor_needs_its_table(deployer):
    with pytest.raises(NotFound, match=r"main\.serving_logs\.nowhere"):
        _create_monitor(deployer, "main.serving_logs.nowhere")


def test_an_endpoints_inference_table_can_be_monitored(emu, deployer):
    from databricks.sdk.service.serving import (
        AiGatewayConfig,
        AiGatewayInferenceTableConfig,
        EndpointCoreConfigInput,
        ServedEntityInput,
    )

    entity = ServedEntityInput(entity_name="main.risk.risk_classifier", entity_version="1", workload_size="Small")
    created = deployer.serving_endpoints.create(
        name="watched",
        config=EndpointCoreConfigInput(name="watched", served_entities=[entity]),
        ai_gateway=AiGatewayConfig(
            inference_table_config=AiGatewayInferenceTableConfig(
                catalog_name="main", schema_name="serving_logs", table_name_prefix="watched", enabled=True
            )
        ),
    )
    assert created.name == "watched"
    monitor = _create_monitor(deployer, "main.serving_logs.watched_payload")
    assert monitor.table_name == "main.serving_logs.watched_payload"
    deployer.quality_monitors.delete("main.serving_logs.watched_payload")
    deployer.serving_endpoints.delete("watched")
    with pytest.raises(NotFound):  # the table goes with its endpoint
        _create_monitor(deployer, "main.serving_logs.watched_payload")


def test_one_monitor_per_table(deployer):
    _create_monitor(deployer)
    with pytest.raises(ResourceAlreadyExists):
        _create_monitor(deployer)


def test_a_monitor_needs_exactly_one_profile_and_a_known_problem_type(deployer):
    with pytest.raises(InvalidParameterValue, match="exactly one of inference_log, snapshot, time_series"):
        deployer.quality_monitors.create(table_name=TABLE, output_schema_name=SCHEMA, assets_dir="/Shared/m")


def test_update_bumps_the_version_and_delete_removes(deployer):
    _create_monitor(deployer)
    log = _inference_log()
    log.granularities = ["1 day"]
    updated = deployer.quality_monitors.update(table_name=TABLE, output_schema_name=SCHEMA, inference_log=log)
    assert (updated.monitor_version, updated.inference_log.granularities) == (2, ["1 day"])
    assert updated.assets_dir == "/Shared/monitors/risk"  # fixed at creation
    deployer.quality_monitors.delete(TABLE)
    with pytest.raises(NotFound):
        deployer.quality_monitors.get(TABLE)


# --- kept across runs ----------------------------------------------------------------------------------


def test_destinations_alerts_and_monitors_outlive_a_restart(tmp_path):
    from emulator import persistence
    from emulator.settings import EmulatorSettings
    from emulator.state import Workspace

    spec = EmulatorSettings(monitoring={"tables": [TABLE], "monitor_pending_seconds": 60})
    before = Workspace(spec)
    destination = before.monitoring.destinations.create(
        {"display_name": "pager", "config": {"pagerduty": {"integration_key": "pd-key"}}}, is_admin=True
    )
    warehouse = before.monitoring.warehouses.list_all()["warehouses"][0]["id"]
    alert = before.monitoring.alerts.create(
        _alert(warehouse, destination["id"]).as_dict(), caller=DEPLOYER, caller_is_user=False
    )
    before.monitoring.monitors.create(
        TABLE, {"output_schema_name": SCHEMA, "assets_dir": "/Shared/m", "inference_log": _inference_log().as_dict()}
    )
    persistence.save(before, tmp_path / "workspace.json")

    after = Workspace(spec)
    persistence.load(after, tmp_path / "workspace.json")
    assert after.monitoring.destinations.answer(destination["id"]) == destination
    assert after.monitoring.alerts.get(alert["id"]) == alert
    assert after.monitoring.monitors.get(TABLE)["status"] == "MONITOR_STATUS_ACTIVE"


def test_by_default_the_workspace_has_what_the_prod_stack_names_warehouse_and_on_call_destination():
    from emulator.monitoring import PROD_ONCALL_DESTINATION

    with running_emulator(**FAST) as emu:
        deployer = emu.workspace_client(emu.token(DEPLOYER))
        assert "serving-monitoring" in [warehouse.name for warehouse in deployer.warehouses.list()]
        destination = deployer.notification_destinations.get(PROD_ONCALL_DESTINATION)
        assert (destination.display_name, destination.destination_type) == (
            "ml-platform-oncall",
            settings.DestinationType.EMAIL,
        )
