"""NotificationDestination, AlertV2, QualityMonitor and getSqlWarehouse in the databricks stand-in, driven over
gRPC as the engine drives it, against the emulator (the rules: databricks_standin/README.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent import futures
from typing import Any

import grpc
import pytest
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from databricks_standin.monitoring import ALERT_V2_SHAPE, NOTIFICATION_DESTINATION_SHAPE
from databricks_standin.server import DatabricksStandin
from databricks_standin.shape import changed_paths
from emulator.testing import EmulatorHandle, running_emulator
from provider import wire

TABLE = "main.serving_logs.risk_classifier_payload"
DEPLOYER = "6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"
SLACK_URL = "https://hooks.slack.example/T0/B0/very-secret-part"
ND = "databricks:index/notificationDestination:NotificationDestination"
ALERT = "databricks:index/alertV2:AlertV2"
MONITOR = "databricks:index/qualityMonitor:QualityMonitor"
WAREHOUSE = "databricks:index/getSqlWarehouse:getSqlWarehouse"


def urn(kind: str, name: str = "r") -> str:
    return f"urn:pulumi:dev::databricks-serving::{kind}::{name}"


class Engine:
    """What the engine sends the stand-in, one call at a time."""

    def __init__(self, stub: provider_pb2_grpc.ResourceProviderStub, emu: EmulatorHandle):
        self.stub = stub
        self.emu = emu

    def configure(self, principal: str | None) -> None:
        args = wire.encode({"host": self.emu.url, "token": self.emu.token(principal)})
        self.stub.Configure(provider_pb2.ConfigureRequest(args=args))

    def create(self, kind: str, inputs: dict[str, Any], timeout: float = 0) -> tuple[str, dict[str, Any]]:
        answer = self.stub.Create(
            provider_pb2.CreateRequest(urn=urn(kind), properties=wire.encode(inputs), timeout=timeout)
        )
        return answer.id, PropertyValue.unmarshal_map(answer.properties)

    def update(self, kind: str, resource_id: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        request = provider_pb2.UpdateRequest(
            urn=urn(kind), id=resource_id, olds=wire.encode(olds), news=wire.encode(news)
        )
        return wire.decode(self.stub.Update(request).properties).plain

    def read(self, kind: str, resource_id: str, recorded: dict[str, Any]) -> provider_pb2.ReadResponse:
        request = provider_pb2.ReadRequest(urn=urn(kind), id=resource_id, properties=wire.encode(recorded))
        return self.stub.Read(request)

    def delete(self, kind: str, resource_id: str, recorded: dict[str, Any]) -> None:
        request = provider_pb2.DeleteRequest(urn=urn(kind), id=resource_id, properties=wire.encode(recorded))
        self.stub.Delete(request)

    def diff(self, kind: str, olds: dict[str, Any], news: dict[str, Any]) -> provider_pb2.DiffResponse:
        request = provider_pb2.DiffRequest(urn=urn(kind), olds=wire.encode(olds), news=wire.encode(news))
        return self.stub.Diff(request)

    def invoke(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = self.stub.Invoke(provider_pb2.InvokeRequest(tok=WAREHOUSE, args=wire.encode(args)))
        return wire.decode(getattr(answer, "return")).plain


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    settings = {"tables": [TABLE], "monitor_pending_seconds": 0.2}
    with running_emulator(update_seconds=0.1, monitoring=settings) as emu:
        yield emu


@pytest.fixture
def engine(emu: EmulatorHandle) -> Iterator[Engine]:
    emu.reset()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(DatabricksStandin(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        engine = Engine(provider_pb2_grpc.ResourceProviderStub(channel), emu)
        engine.configure(None)  # an admin: only admins write notification destinations
        yield engine
    server.stop(grace=None)


def _slack_destination() -> dict[str, Any]:
    return {"displayName": "risk on-call", "config": {"slack": {"url": SLACK_URL}}}


# --- NotificationDestination -----------------------------------------------------------------------------


def test_a_destination_keeps_its_declared_secret_in_the_state_as_a_secret(engine):
    destination_id, state = engine.create(ND, _slack_destination())
    slack = state["config"].value["slack"].value
    assert (slack["url"].value, slack["url"].is_secret) == (SLACK_URL, True)
    assert slack["urlSet"].value is True and state["destinationType"].value == "SLACK"
    assert state["notificationDestinationId"].value == destination_id
    answered = engine.emu.workspace_client().notification_destinations.get(destination_id)
    assert SLACK_URL not in str(answered.as_dict())


def test_a_refresh_keeps_the_secret_the_api_does_not_answer(engine):
    destination_id, _ = engine.create(ND, _slack_destination())
    read = engine.read(ND, destination_id, _slack_destination())
    state = PropertyValue.unmarshal_map(read.properties)
    assert state["config"].value["slack"].value["url"].value == SLACK_URL
    assert state["config"].value["slack"].value["url"].is_secret


def test_a_new_webhook_url_replaces_the_destination_and_a_new_name_updates_it(engine):
    olds = {**_slack_destination(), "destinationType": "SLACK"}
    moved = engine.diff(ND, olds, {**_slack_destination(), "config": {"slack": {"url": SLACK_URL + "-2"}}})
    renamed = engine.diff(ND, olds, {**_slack_destination(), "displayName": "risk pager"})
    assert list(moved.replaces) == ["config"]
    assert (list(renamed.diffs), list(renamed.replaces)) == (["displayName"], [])


def test_update_renames_in_place(engine):
    destination_id, _ = engine.create(ND, _slack_destination())
    updated = engine.update(ND, destination_id, _slack_destination(), {**_slack_destination(), "displayName": "x"})
    assert updated["displayName"] == "x"
    assert engine.emu.workspace_client().notification_destinations.get(destination_id).display_name == "x"


def test_a_non_admin_deployer_is_told_why_its_destination_fails(engine):
    engine.configure(DEPLOYER)
    with pytest.raises(grpc.RpcError) as raised:
        engine.create(ND, _slack_destination())
    assert raised.value.details().startswith("cannot create notification destination: Only workspace admins")
    assert SLACK_URL not in raised.value.details()


def test_delete_removes_the_destination(engine):
    destination_id, _ = engine.create(ND, _slack_destination())
    engine.delete(ND, destination_id, _slack_destination())
    assert engine.read(ND, destination_id, _slack_destination()).id == ""


# --- getSqlWarehouse -------------------------------------------------------------------------------------


def test_get_sql_warehouse_by_name_and_by_id_agree(engine):
    by_name = engine.invoke({"name": "serving-alerts"})
    by_id = engine.invoke({"id": by_name["id"]})
    assert by_name == by_id
    assert (by_name["state"], by_name["odbcParams"]["path"]) == ("RUNNING", f"/sql/1.0/warehouses/{by_name['id']}")
    assert by_name["dataSourceId"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "cannot read data sql warehouse: either 'id' or 'name' should be provided"),
        ({"name": "nope"}, "cannot read data sql warehouse: can't find SQL warehouse with the name 'nope'"),
    ],
)
def test_get_sql_warehouse_says_what_is_missing(engine, args, message):
    with pytest.raises(grpc.RpcError) as raised:
        engine.invoke(args)
    assert raised.value.details() == message


# --- AlertV2 ---------------------------------------------------------------------------------------------


def _alert(warehouse_id: str, threshold: float = 250.0, **extra: Any) -> dict[str, Any]:
    return {
        "displayName": "risk p99 latency",
        "queryText": f"SELECT percentile(latency_ms, 0.99) AS p99 FROM {TABLE}",
        "warehouseId": warehouse_id,
        "evaluation": {
            "source": {"name": "p99"},
            "comparisonOperator": "GREATER_THAN",
            "threshold": {"value": {"doubleValue": threshold}},
            "notification": {"subscriptions": [{"userEmail": "oncall@example.com"}]},
        },
        "schedule": {"quartzCronSchedule": "0 0/5 * * * ?", "timezoneId": "UTC"},
        **extra,
    }


def test_an_alert_is_created_with_its_threshold_and_no_change_after(engine):
    warehouse = engine.invoke({"name": "serving-alerts"})["id"]
    alert_id, state = engine.create(ALERT, _alert(warehouse))
    plain = {key: value.value for key, value in state.items()}
    assert plain["lifecycleState"] == "ACTIVE" and plain["ownerUserName"] == "admin@example.com"
    recorded = {key: _plainify(value) for key, value in state.items()}
    assert changed_paths(recorded, _alert(warehouse), ALERT_V2_SHAPE) == []
    got = engine.emu.workspace_client().alerts_v2.get_alert(alert_id)
    assert got.evaluation.threshold.value.double_value == 250.0


def _plainify(value: PropertyValue) -> Any:
    inner = value.value
    if isinstance(inner, Mapping):
        return {key: _plainify(item) for key, item in inner.items()}
    if isinstance(inner, tuple):
        return [_plainify(item) for item in inner]
    return inner


def test_a_new_threshold_updates_the_alert_in_place(engine):
    warehouse = engine.invoke({"name": "serving-alerts"})["id"]
    diff = engine.diff(ALERT, _alert(warehouse), _alert(warehouse, threshold=400.0))
    assert (list(diff.diffs), list(diff.replaces)) == (["evaluation"], [])
    alert_id, _ = engine.create(ALERT, _alert(warehouse))
    updated = engine.update(ALERT, alert_id, _alert(warehouse), _alert(warehouse, threshold=400.0))
    assert updated["evaluation"]["threshold"]["value"]["doubleValue"] == 400.0
    calls = engine.emu.counters()["api_calls"]
    assert calls["PATCH /api/2.0/alerts/{alert_id}"] == 1


def test_an_alert_on_an_unknown_warehouse_fails_as_the_framework_says(engine):
    with pytest.raises(grpc.RpcError) as raised:
        engine.create(ALERT, _alert("0123456789abcdef"))
    assert raised.value.details().startswith("failed to create alert_v2: ")
    assert "SQL warehouse 0123456789abcdef does not exist" in raised.value.details()


def test_delete_trashes_unless_purge_on_delete(engine):
    warehouse = engine.invoke({"name": "serving-alerts"})["id"]
    trashed, _ = engine.create(ALERT, _alert(warehouse))
    purged, _ = engine.create(ALERT, _alert(warehouse, purgeOnDelete=True))
    engine.delete(ALERT, trashed, _alert(warehouse))
    engine.delete(ALERT, purged, _alert(warehouse, purgeOnDelete=True))
    assert engine.emu.workspace_client().alerts_v2.get_alert(trashed).lifecycle_state.value == "DELETED"
    assert engine.read(ALERT, purged, _alert(warehouse)).id == ""


# --- QualityMonitor --------------------------------------------------------------------------------------


def _monitor(**extra: Any) -> dict[str, Any]:
    return {
        "tableName": TABLE,
        "assetsDir": "/Shared/monitors/risk",
        "outputSchemaName": "main.serving_logs",
        "inferenceLog": {
            "problemType": "PROBLEM_TYPE_CLASSIFICATION",
            "predictionCol": "prediction",
            "timestampCol": "timestamp",
            "modelIdCol": "served_entity_id",
            "granularities": ["1 hour"],
        },
        **extra,
    }


def test_create_waits_until_the_monitor_is_active(engine):
    table, state = engine.create(MONITOR, _monitor(warehouseId="abc"))
    assert table == TABLE == state["monitorId"].value
    assert state["status"].value == "MONITOR_STATUS_ACTIVE"
    assert state["warehouseId"].value == "abc"  # never answered: kept from the inputs
    gets = engine.emu.counters()["api_calls"]["GET /api/2.1/unity-catalog/tables/{table_name}/monitor"]
    assert gets >= 2  # pending at first, polled until active


def test_update_puts_the_new_granularities_and_keeps_the_dashboard(engine):
    _, created = engine.create(MONITOR, _monitor())
    olds = {key: _plainify(value) for key, value in created.items()}
    news = _monitor()
    news["inferenceLog"] = {**news["inferenceLog"], "granularities": ["1 day"]}
    updated = engine.update(MONITOR, TABLE, olds, news)
    assert updated["inferenceLog"]["granularities"] == ["1 day"]
    assert (updated["monitorVersion"], updated["dashboardId"]) == (2, olds["dashboardId"])


def test_a_monitor_on_a_missing_table_fails_before_any_wait(engine):
    with pytest.raises(grpc.RpcError) as raised:
        engine.create(MONITOR, _monitor(tableName="main.serving_logs.nowhere"))
    assert raised.value.details() == "failed to create monitor: Table 'main.serving_logs.nowhere' does not exist."


def test_delete_removes_the_monitor(engine):
    engine.create(MONITOR, _monitor())
    engine.delete(MONITOR, TABLE, _monitor())
    assert engine.read(MONITOR, TABLE, _monitor()).id == ""


def test_the_destination_shape_computes_its_type_and_set_flags():
    recorded = {"displayName": "d", "destinationType": "SLACK", "config": {"slack": {"url": "u", "urlSet": True}}}
    assert (
        changed_paths(recorded, {"displayName": "d", "config": {"slack": {"url": "u"}}}, NOTIFICATION_DESTINATION_SHAPE)
        == []
    )


def test_check_returns_a_plaintext_webhook_url_as_a_secret(engine):
    checked = engine.stub.Check(provider_pb2.CheckRequest(urn=urn(ND), news=wire.encode(_slack_destination())))
    inputs = PropertyValue.unmarshal_map(checked.inputs)
    assert inputs["config"].value["slack"].value["url"].is_secret
    assert not inputs["displayName"].is_secret


def test_an_unknown_function_is_named(engine):
    request = provider_pb2.InvokeRequest(tok="databricks:index/getJobs:getJobs", args=wire.encode({}))
    with pytest.raises(grpc.RpcError) as raised:
        engine.stub.Invoke(request)
    assert "no function 'databricks:index/getJobs:getJobs'" in raised.value.details()
