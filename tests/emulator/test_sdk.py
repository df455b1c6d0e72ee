"""The real databricks-sdk WorkspaceClient against the emulator (plain http on loopback; PAT auth, and OAuth
M2M for route-optimized endpoints, whose data plane the sdk reaches through its own token exchange).

The sdk's waiter polls with sleeps of 1 s, 2 s, ... so each `*_and_wait` costs a second or two; the
endpoint built by `create_and_wait` is shared by this module's read-only tests.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (
    BadRequest,
    InvalidParameterValue,
    OperationFailed,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceConflict,
    ResourceDoesNotExist,
    Unauthenticated,
)
from databricks.sdk.service.iam import PermissionLevel
from databricks.sdk.service.serving import (
    EndpointCoreConfigInput,
    EndpointStateConfigUpdate,
    EndpointStateReady,
    EndpointTag,
    ServedEntityInput,
    ServedModelStateDeployment,
    ServingEndpointAccessControlRequest,
    ServingEndpointPermissionLevel,
)

from emulator.testing import running_emulator
from tests.emulator.support import ANALYST, DEPLOYER, FAST, ROW

TIMEOUT = timedelta(seconds=20)


def _entity(version: str) -> ServedEntityInput:
    return ServedEntityInput(
        entity_name="main.risk.risk_classifier",
        entity_version=version,
        workload_size="Small",
        scale_to_zero_enabled=False,
    )


@pytest.fixture(scope="module")
def emu():
    with running_emulator(**FAST) as emu:
        yield emu


@pytest.fixture(scope="module")
def w(emu) -> WorkspaceClient:
    return emu.workspace_client(emu.token(DEPLOYER))


@pytest.fixture(scope="module")
def created(w):
    """`create_and_wait` of the endpoint the read-only tests share."""
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    return w.serving_endpoints.create_and_wait(
        name="shared",
        config=EndpointCoreConfigInput(name="shared", served_entities=[_entity("1")]),
        tags=[EndpointTag(key="team", value="risk")],
        timeout=TIMEOUT,
    )


def test_create_and_wait_returns_a_ready_endpoint(created):
    assert created.state.config_update == EndpointStateConfigUpdate.NOT_UPDATING
    assert created.state.ready == EndpointStateReady.READY
    assert created.config.served_entities[0].state.deployment == ServedModelStateDeployment.DEPLOYMENT_READY
    assert len(created.id) == 32


def test_get_parses_the_detailed_endpoint(w, created):
    endpoint = w.serving_endpoints.get("shared")

    assert endpoint.creator == DEPLOYER
    assert endpoint.config.traffic_config.routes[0].served_entity_name == "risk_classifier-1"
    assert endpoint.config.traffic_config.routes[0].traffic_percentage == 100
    assert endpoint.config.served_entities[0].workload_size == "Small"
    assert endpoint.permission_level.value == "CAN_MANAGE"
    assert endpoint.tags == [EndpointTag(key="team", value="risk")]


def test_list_parses_summaries(w, created):
    summary = next(e for e in w.serving_endpoints.list() if e.name == "shared")

    assert summary.config.served_entities[0].entity_version == "1"
    assert summary.state.ready == EndpointStateReady.READY


def test_query_returns_predictions_and_the_served_model_name(w, created):
    response = w.serving_endpoints.query("shared", dataframe_records=[ROW])

    assert response.served_model_name == "risk_classifier-1"
    assert len(response.predictions) == 1


def test_query_retries_by_itself_through_a_429_burst(emu, w, created):
    emu.burst("shared", count=1, status_code=429, retry_after_seconds=0)

    response = w.serving_endpoints.query("shared", dataframe_records=[ROW])

    assert response.served_model_name == "risk_classifier-1"
    assert emu.faults()["bursts"] == []


def test_build_logs_and_logs_are_text(w, created):
    build = w.serving_endpoints.build_logs("shared", "risk_classifier-1")
    server = w.serving_endpoints.logs("shared", "risk_classifier-1")

    assert "Container image built" in build.logs
    assert "Model server started" in server.logs


def test_export_metrics_returns_the_exposition(w, created):
    w.serving_endpoints.query("shared", dataframe_records=[ROW])

    text = w.serving_endpoints.export_metrics("shared").contents.read().decode()

    assert 'request_count_total{endpoint_name="shared",served_entity_name="risk_classifier-1"}' in text


def test_patch_tags_adds_and_deletes(w, created):
    added = w.serving_endpoints.patch("shared", add_tags=[EndpointTag(key="env", value="dev")])
    deleted = w.serving_endpoints.patch("shared", delete_tags=["env"])

    assert added.tags == [EndpointTag(key="team", value="risk"), EndpointTag(key="env", value="dev")]
    assert deleted.tags == [EndpointTag(key="team", value="risk")]


def test_put_ai_gateway_and_update_notifications(w, created):
    from databricks.sdk.service.serving import AiGatewayUsageTrackingConfig, EmailNotifications

    gateway = w.serving_endpoints.put_ai_gateway("shared", usage_tracking_config=AiGatewayUsageTrackingConfig(True))
    notified = w.serving_endpoints.update_notifications(
        "shared", email_notifications=EmailNotifications(on_update_failure=["ops@example.com"])
    )

    assert gateway.usage_tracking_config.enabled is True
    assert notified.email_notifications.on_update_failure == ["ops@example.com"]
    endpoint = w.serving_endpoints.get("shared")
    assert endpoint.ai_gateway.usage_tracking_config.enabled is True
    assert endpoint.email_notifications.on_update_failure == ["ops@example.com"]


def test_set_get_and_update_permissions_by_id(w, created):
    endpoint_id = w.serving_endpoints.get("shared").id
    levels = ServingEndpointPermissionLevel
    query = ServingEndpointAccessControlRequest(user_name=ANALYST, permission_level=levels.CAN_QUERY)
    manage = ServingEndpointAccessControlRequest(group_name="ml-ops", permission_level=levels.CAN_MANAGE)

    w.serving_endpoints.set_permissions(endpoint_id, access_control_list=[query])
    updated = w.serving_endpoints.update_permissions(endpoint_id, access_control_list=[manage])
    read = w.permissions.get("serving-endpoints", endpoint_id)

    assert updated.object_id == f"/serving-endpoints/{endpoint_id}"
    direct = {
        (a.user_name or a.group_name or a.service_principal_name): a.all_permissions[0].permission_level
        for a in read.access_control_list
        if not a.all_permissions[0].inherited
    }
    assert direct == {
        ANALYST: PermissionLevel.CAN_QUERY,
        "ml-ops": PermissionLevel.CAN_MANAGE,
        DEPLOYER: PermissionLevel.CAN_MANAGE,
    }


def test_permissions_by_name_raise_invalid_parameter_value(w, created):
    with pytest.raises(InvalidParameterValue, match="is not a valid Inference Endpoint ID"):
        w.serving_endpoints.get_permissions("shared")


def test_permission_levels(w, created):
    levels = w.serving_endpoints.get_permission_levels(w.serving_endpoints.get("shared").id)

    assert [p.permission_level.value for p in levels.permission_levels] == ["CAN_VIEW", "CAN_QUERY", "CAN_MANAGE"]


def test_sdk_maps_emulator_errors_to_its_exception_classes(emu, w, created):
    stranger = emu.workspace_client(emu.token(ANALYST))
    with pytest.raises(ResourceDoesNotExist):
        w.serving_endpoints.get("missing")
    with pytest.raises(ResourceAlreadyExists):
        w.serving_endpoints.create("shared", config=None)
    with pytest.raises(BadRequest):
        w.serving_endpoints.query("shared", instances=[ROW], inputs=[ROW])
    with pytest.raises(PermissionDenied):
        stranger.serving_endpoints.update_config("shared", served_entities=[_entity("2")])
    with pytest.raises(Unauthenticated):
        WorkspaceClient(host=emu.url, token="wrong", auth_type="pat").serving_endpoints.list()


def test_update_config_and_wait_serves_the_new_version(w):
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    w.serving_endpoints.create(
        "updated", config=EndpointCoreConfigInput(name="updated", served_entities=[_entity("1")])
    )
    with pytest.raises(ResourceConflict):
        w.serving_endpoints.update_config("updated", served_entities=[_entity("2")])
    w.serving_endpoints.wait_get_serving_endpoint_not_updating("updated", timeout=TIMEOUT)

    endpoint = w.serving_endpoints.update_config_and_wait("updated", served_entities=[_entity("2")], timeout=TIMEOUT)

    assert endpoint.config.config_version == 2
    assert endpoint.config.served_entities[0].entity_version == "2"


def test_waiting_on_an_unregistered_version_raises_operation_failed(w):
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    waiter = w.serving_endpoints.create(
        "broken", config=EndpointCoreConfigInput(name="broken", served_entities=[_entity("42")])
    )

    with pytest.raises(OperationFailed, match="UPDATE_FAILED"):
        waiter.result(timeout=TIMEOUT)


def test_delete_then_get_raises_resource_does_not_exist(w):
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    w.serving_endpoints.create("doomed", config=EndpointCoreConfigInput(name="doomed", served_entities=[_entity("1")]))

    w.serving_endpoints.delete("doomed")

    with pytest.raises(ResourceDoesNotExist):
        w.serving_endpoints.get("doomed")


# ---- AI Gateway, notifications, metrics, legacy inference tables, route optimization ------------------


def test_put_ai_gateway_with_rate_limits_inference_table_and_fallback_reads_back(w, created):
    from databricks.sdk.service.serving import (
        AiGatewayInferenceTableConfig,
        AiGatewayRateLimit,
        AiGatewayRateLimitKey,
        AiGatewayRateLimitRenewalPeriod,
        FallbackConfig,
    )

    limits = [
        AiGatewayRateLimit(
            renewal_period=AiGatewayRateLimitRenewalPeriod.MINUTE, calls=1000, key=AiGatewayRateLimitKey.ENDPOINT
        ),
        AiGatewayRateLimit(
            renewal_period=AiGatewayRateLimitRenewalPeriod.MINUTE,
            calls=100,
            key=AiGatewayRateLimitKey.SERVICE_PRINCIPAL,
            principal=DEPLOYER,
        ),
    ]
    table = AiGatewayInferenceTableConfig(
        catalog_name="main", schema_name="serving", table_name_prefix="shared", enabled=True
    )

    put = w.serving_endpoints.put_ai_gateway(
        "shared", rate_limits=limits, inference_table_config=table, fallback_config=FallbackConfig(enabled=True)
    )

    assert put.rate_limits == limits
    assert w.serving_endpoints.get("shared").ai_gateway.inference_table_config == table
    assert w.serving_endpoints.query("shared", dataframe_records=[ROW]).served_model_name == "risk_classifier-1"
    w.serving_endpoints.put_ai_gateway("shared")  # back to no gateway config for the other tests


def test_the_sdk_waits_out_a_rate_limit_by_itself():
    from databricks.sdk.service.serving import AiGatewayRateLimit, AiGatewayRateLimitRenewalPeriod

    with running_emulator(**FAST, rate_limit_period_seconds=0.5) as emu:
        w = emu.workspace_client(emu.token(DEPLOYER))
        w.serving_endpoints.create_and_wait(
            "limited", config=EndpointCoreConfigInput(name="limited", served_entities=[_entity("1")]), timeout=TIMEOUT
        )
        w.serving_endpoints.put_ai_gateway(
            "limited", rate_limits=[AiGatewayRateLimit(renewal_period=AiGatewayRateLimitRenewalPeriod.MINUTE, calls=1)]
        )

        first = w.serving_endpoints.query("limited", dataframe_records=[ROW])
        second = w.serving_endpoints.query("limited", dataframe_records=[ROW])  # 429, Retry-After, retried

    assert first.predictions == second.predictions


def test_legacy_inference_table_on_create_raises_invalid_parameter_value(w):
    from databricks.sdk.service.serving import AutoCaptureConfigInput

    config = EndpointCoreConfigInput(
        name="legacy",
        served_entities=[_entity("1")],
        auto_capture_config=AutoCaptureConfigInput(catalog_name="main", schema_name="serving"),
    )
    with pytest.raises(InvalidParameterValue, match="Legacy inference tables can not be enabled"):
        w.serving_endpoints.create("legacy", config=config)


def test_export_metrics_are_per_minute_gauges(w, created):
    w.serving_endpoints.query("shared", dataframe_records=[ROW])

    text = w.serving_endpoints.export_metrics("shared").contents.read().decode()

    assert "# TYPE request_count_total gauge" in text
    assert "# TYPE request_latency_ms histogram" in text
    assert (
        'provisioned_concurrent_requests_total{endpoint_name="shared",served_entity_name="risk_classifier-1"} 4' in text
    )


def test_oauth_m2m_client_manages_endpoints(emu, created):
    m2m = emu.oauth_workspace_client()

    assert m2m.config.auth_type == "oauth-m2m"
    assert m2m.serving_endpoints.get("shared").permission_level.value == "CAN_MANAGE"


def test_route_optimized_endpoint_is_queried_through_the_sdk_data_plane(emu):
    m2m = emu.oauth_workspace_client()
    endpoint = m2m.serving_endpoints.create_and_wait(
        "fast",
        config=EndpointCoreConfigInput(name="fast", served_entities=[_entity("1")]),
        route_optimized=True,
        timeout=TIMEOUT,
    )

    answer = m2m.serving_endpoints_data_plane.query("fast", dataframe_records=[ROW])

    assert endpoint.endpoint_url.startswith(emu.data_plane_url)
    assert endpoint.data_plane_info.query_info.endpoint_url == endpoint.endpoint_url
    assert answer.served_model_name == "risk_classifier-1"
    assert len(answer.predictions) == 1


def test_a_pat_client_cannot_use_the_data_plane_of_a_route_optimized_endpoint(emu, w):
    w.serving_endpoints.create_and_wait(
        "fast-pat",
        config=EndpointCoreConfigInput(name="fast-pat", served_entities=[_entity("1")]),
        route_optimized=True,
        timeout=TIMEOUT,
    )

    with pytest.raises(ValueError, match="OAuth tokens are not available for pat authentication"):
        w.serving_endpoints_data_plane.query("fast-pat", dataframe_records=[ROW])
    with pytest.raises(BadRequest, match="route-optimized"):
        w.serving_endpoints.query("fast-pat", dataframe_records=[ROW])
