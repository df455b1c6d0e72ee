"""Every JSON body the emulator's Databricks routes return is exactly what its databricks-sdk dataclass
reads and writes back: `Cls.from_dict(body).as_dict() == body`, so no field is lost (a field the sdk does
not know, i.e. an invented one, would vanish) and none is invented or reshaped (an enum value the sdk does
not have would fail to parse).

One scenario walks every route through every endpoint state: creating, updating with a pending config,
ready, update failed, recovering, scaled to zero, route-optimized, with tags, AI Gateway and notifications,
and deleted. The route templates it called are then compared with the app's own list, so a new route
cannot go unchecked.
"""

from __future__ import annotations

from typing import Any

from databricks.sdk.service import catalog, iam, ml, serving, settings, sql, workspace

from emulator import create_app
from tests.emulator.support import DEPLOYER, ROW, WorkspaceApi, entity, routes

EP = "/api/2.0/serving-endpoints"
PERMS = "/api/2.0/permissions/serving-endpoints"
# Routes that answer something other than a serving dataclass: Prometheus text, an empty object for a
# delete (the sdk returns None), and the OAuth endpoints (RFC 6749/8414 shapes, read by databricks.sdk.oauth).
NOT_SDK_DATACLASSES = {
    f"GET {EP}/{{name}}/metrics",
    f"DELETE {EP}/{{name}}",
    "GET /.well-known/databricks-config",
    "GET /oidc/.well-known/oauth-authorization-server",
    "POST /oidc/v1/token",
    # Deletes answer `{}` (the sdk returns None); the data sources are a JSON array (checked item by item).
    "DELETE /api/2.0/notification-destinations/{destination_id}",
    "DELETE /api/2.0/alerts/{alert_id}",
    "GET /api/2.0/preview/sql/data_sources",
}


class Recorder:
    def __init__(self, api: WorkspaceApi):
        self.api = api
        self.checked: list[tuple[str, str]] = []
        self.mismatches: list[dict[str, Any]] = []

    def call(self, cls: type, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> dict:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return self.check(cls, f"{method} {path}", response.json())

    def check(self, cls: type, label: str, body: dict) -> dict:
        written = cls.from_dict(body).as_dict()
        if written != body:
            self.mismatches.append({"call": label, "class": cls.__name__, "sent": body, "sdk": written})
        self.checked.append((label, cls.__name__))
        return body


def _routes_of(app) -> list:
    """The app's routes, through the routers it includes (FastAPI wraps an included router)."""
    found = []
    for route in app.routes:
        found += getattr(getattr(route, "original_router", None), "routes", None) or [route]
    return [r for r in found if hasattr(r, "methods")]


def _wait(api: WorkspaceApi, name: str, predicate) -> dict:
    return api.wait_for(name, predicate)


def test_every_route_and_state_round_trips_through_the_sdk_dataclasses(api, emu):
    r = Recorder(api)
    detailed = serving.ServingEndpointDetailed
    gateway = {
        "usage_tracking_config": {"enabled": True},
        "inference_table_config": {
            "catalog_name": "main",
            "schema_name": "serving",
            "table_name_prefix": "risk",
            "enabled": True,
        },
        "rate_limits": [
            {"calls": 100, "renewal_period": "minute"},
            {"calls": 10, "renewal_period": "minute", "key": "user", "principal": "analyst@example.com"},
        ],
        "fallback_config": {"enabled": True},
    }

    # creating: IN_PROGRESS, pending config only; with everything a create can carry
    created = r.call(
        detailed,
        "POST",
        EP,
        json={
            "name": "full",
            "config": {
                "served_entities": [entity("1", name="stable"), entity("2", name="canary")],
                "traffic_config": routes(stable=90, canary=10),
            },
            "tags": [{"key": "team", "value": "risk"}, {"key": "flag"}],
            "description": "Risk scoring",
            "email_notifications": {"on_update_failure": ["ops@example.com"], "on_update_success": []},
            "ai_gateway": gateway,
            "budget_policy_id": "policy-1",
        },
    )
    assert created["state"]["config_update"] == "IN_PROGRESS" and "pending_config" in created
    emu.stick_update("plain")
    r.call(detailed, "POST", EP, json={"name": "plain", "config": {"served_entities": [entity("1")]}})
    r.call(detailed, "GET", f"{EP}/plain")  # creating, held there
    emu.release_update("plain")

    # ready
    _wait(api, "full", lambda b: b["state"]["ready"] == "READY")
    r.call(detailed, "GET", f"{EP}/full")
    # updating: the active config serving, the new one pending
    r.call(
        detailed,
        "PUT",
        f"{EP}/full/config",
        json={
            "served_entities": [entity("1", name="stable"), entity("3", name="canary")],
            "traffic_config": routes(stable=50, canary=50),
        },
    )
    r.call(detailed, "GET", f"{EP}/full")
    # update failed: pending config with DEPLOYMENT_FAILED / ABORTED entities
    _wait(api, "full", lambda b: b["state"]["config_update"] == "NOT_UPDATING")
    r.call(
        detailed,
        "PUT",
        f"{EP}/full/config",
        json={
            "served_entities": [entity("42", name="broken"), entity("2", name="other")],
            "traffic_config": routes(broken=50, other=50),
        },
    )
    failed = _wait(api, "full", lambda b: b["state"]["config_update"] == "UPDATE_FAILED")
    r.check(detailed, "GET (update failed)", failed)
    # recovering (NOT_UPDATING but NOT_READY) and scaled to zero
    emu.not_ready_after_update("plain")
    r.call(detailed, "PUT", f"{EP}/plain/config", json={"served_entities": [entity("2")]})
    r.check(
        detailed,
        "GET (recovering)",
        _wait(api, "plain", lambda b: b["state"] == {"ready": "NOT_READY", "config_update": "NOT_UPDATING"}),
    )
    emu.clear_faults("plain")
    r.call(
        detailed,
        "POST",
        EP,
        json={
            "name": "cold",
            "config": {
                "served_entities": [entity("1", scale_to_zero_enabled=True, environment_vars={"MODE": "strict"})]
            },
        },
    )
    r.check(detailed, "GET (scaled to zero)", _wait(api, "cold", lambda b: b["state"]["ready"] == "READY"))
    # route-optimized: endpoint_url and data_plane_info
    r.call(
        detailed,
        "POST",
        EP,
        json={
            "name": "fast",
            "route_optimized": True,
            "config": {
                "served_entities": [
                    {
                        "entity_name": "main.risk.risk_classifier",
                        "entity_version": "1",
                        "min_provisioned_concurrency": 4,
                        "max_provisioned_concurrency": 8,
                    }
                ]
            },
        },
    )
    fast = r.check(detailed, "GET (route-optimized)", _wait(api, "fast", lambda b: b["state"]["ready"] == "READY"))

    # list, tags, AI gateway, notifications, logs
    r.call(serving.ListEndpointsResponse, "GET", EP)
    r.call(
        serving.EndpointTags,
        "PATCH",
        f"{EP}/full/tags",
        json={"add_tags": [{"key": "env", "value": "prod"}], "delete_tags": ["flag"]},
    )
    r.call(serving.PutAiGatewayResponse, "PUT", f"{EP}/plain/ai-gateway", json=gateway)
    r.call(serving.PutAiGatewayResponse, "PUT", f"{EP}/plain/ai-gateway", json={})
    r.call(
        serving.UpdateInferenceEndpointNotificationsResponse,
        "PATCH",
        f"{EP}/full/notifications",
        json={"email_notifications": {"on_update_success": ["team@example.com"]}},
    )
    r.call(serving.UpdateInferenceEndpointNotificationsResponse, "PATCH", f"{EP}/plain/notifications", json={})
    r.call(detailed, "GET", f"{EP}/full")
    r.call(serving.BuildLogsResponse, "GET", f"{EP}/full/served-models/broken/build-logs")
    r.call(serving.ServerLogsResponse, "GET", f"{EP}/full/served-models/stable/logs")
    r.call(serving.ServerLogsResponse, "GET", f"{EP}/full/served-models/broken/logs")

    # invocations: routed, one entity, route-optimized
    r.call(
        serving.QueryEndpointResponse, "POST", "/serving-endpoints/full/invocations", json={"dataframe_records": [ROW]}
    )
    r.call(
        serving.QueryEndpointResponse,
        "POST",
        "/serving-endpoints/full/served-models/canary/invocations",
        json={"instances": [ROW, ROW]},
    )
    oauth = emu.oauth_client_config()
    api.request(
        "PUT",
        f"{PERMS}/{fast['id']}",
        json={"access_control_list": [{"service_principal_name": DEPLOYER, "permission_level": "CAN_QUERY"}]},
    )
    token = api.session.post(
        f"{emu.url}/oidc/v1/token",
        auth=(oauth["client_id"], oauth["client_secret"]),
        data={
            "grant_type": "client_credentials",
            "authorization_details": fast["data_plane_info"]["query_info"]["authorization_details"],
        },
    ).json()
    response = api.session.post(
        fast["endpoint_url"], json={"inputs": [ROW]}, headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.status_code == 200, response.text
    r.check(serving.QueryEndpointResponse, "POST (route-optimized URL)", response.json())

    # permissions
    endpoint_id = created["id"]
    r.call(serving.ServingEndpointPermissions, "GET", f"{PERMS}/{endpoint_id}")
    r.call(
        serving.ServingEndpointPermissions,
        "PUT",
        f"{PERMS}/{endpoint_id}",
        json={"access_control_list": [{"user_name": "analyst@example.com", "permission_level": "CAN_QUERY"}]},
    )
    r.call(
        serving.ServingEndpointPermissions,
        "PATCH",
        f"{PERMS}/{endpoint_id}",
        json={"access_control_list": [{"group_name": "ml-ops", "permission_level": "CAN_MANAGE"}]},
    )
    r.call(serving.GetServingEndpointPermissionLevelsResponse, "GET", f"{PERMS}/{endpoint_id}/permissionLevels")

    # deleted: gone from GET and from the list
    assert api.request("DELETE", f"{EP}/cold").json() == {}
    assert api.get("cold").json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Endpoint with name 'cold' does not exist.",
    }
    listed = r.call(serving.ListEndpointsResponse, "GET", EP)
    assert "cold" not in [e["name"] for e in listed["endpoints"]]
    api.metrics("full")
    api.request("GET", "/.well-known/databricks-config")
    api.request("GET", "/oidc/.well-known/oauth-authorization-server")

    walk_workspace_objects(r, emu)
    walk_monitoring(r)

    assert r.mismatches == []
    called = set(emu.counters()["api_calls"])
    databricks_routes = {
        f"{method} {route.path}"
        for route in _routes_of(create_app())
        if not route.path.startswith("/_emulator")
        for method in route.methods
    }
    assert databricks_routes - called == set()
    json_routes = databricks_routes - NOT_SDK_DATACLASSES
    assert len(r.checked) > len(json_routes)


UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"


def walk_workspace_objects(r: Recorder, emu) -> None:
    """The read-only routes a preflight calls, found and missing, each in its sdk dataclass."""
    model = "main.risk.risk_classifier"
    emu.add_object("model-versions", model=model, version="5", status="PENDING_REGISTRATION")
    r.call(catalog.ModelVersionInfo, "GET", f"{UC}/models/{model}/versions/4")
    r.call(catalog.ModelVersionInfo, "GET", f"{UC}/models/{model}/versions/5?include_aliases=true")
    r.call(catalog.ModelVersionInfo, "GET", f"{UC}/models/{model}/aliases/champion?include_aliases=true")
    assert r.api.request("GET", f"{UC}/models/{model}/aliases/nope").status_code == 404
    r.call(catalog.SchemaInfo, "GET", f"{UC}/schemas/main.serving_logs")
    r.call(catalog.CatalogInfo, "GET", f"{UC}/catalogs/main")
    assert r.api.request("GET", f"{UC}/schemas/nowhere.logs").json()["error_code"] == "CATALOG_DOES_NOT_EXIST"
    r.call(catalog.EffectivePermissionsList, "GET", f"{UC}/effective-permissions/function/{model}?principal={DEPLOYER}")
    r.call(catalog.EffectivePermissionsList, "GET", f"{UC}/effective-permissions/function/{model}?principal=nobody")
    r.call(ml.GetModelVersionResponse, "GET", "/api/2.0/mlflow/model-versions/get?name=RiskClassifier&version=2")
    r.call(
        ml.GetLatestVersionsResponse,
        "POST",
        "/api/2.0/mlflow/registered-models/get-latest-versions",
        json={"name": "RiskClassifier", "stages": ["Production"]},
    )
    r.call(
        ml.GetLatestVersionsResponse,
        "POST",
        "/api/2.0/mlflow/registered-models/get-latest-versions",
        json={"name": "RiskClassifier", "stages": ["Nothing"]},
    )
    r.call(iam.ListServicePrincipalResponse, "GET", f'{SCIM}/ServicePrincipals?filter=applicationId eq "{DEPLOYER}"')
    r.call(iam.ListServicePrincipalResponse, "GET", f'{SCIM}/ServicePrincipals?filter=applicationId eq "nobody"')
    r.call(iam.ListGroupsResponse, "GET", f'{SCIM}/Groups?filter=displayName eq "ml-platform-oncall"')
    r.call(iam.ListUsersResponse, "GET", f'{SCIM}/Users?filter=userName eq "support@example.com"')
    r.call(iam.ListUsersResponse, "GET", f'{SCIM}/Users?filter=userName eq "nobody@example.com"')
    r.call(iam.User, "GET", f"{SCIM}/Me")
    r.call(workspace.ListScopesResponse, "GET", "/api/2.0/secrets/scopes/list")
    r.call(workspace.ListSecretsResponse, "GET", "/api/2.0/secrets/list?scope=fraud-scoring")


def walk_monitoring(r: Recorder) -> None:
    """Warehouses, notification destinations, alerts v2 and a quality monitor on an endpoint's inference table."""
    warehouses = r.call(sql.ListWarehousesResponse, "GET", "/api/2.0/sql/warehouses")["warehouses"]
    warehouse = r.call(sql.GetWarehouseResponse, "GET", f"/api/2.0/sql/warehouses/{warehouses[0]['id']}")
    for source in r.api.request("GET", "/api/2.0/preview/sql/data_sources").json():
        r.check(sql.DataSource, "GET data_sources item", source)
    nd = "/api/2.0/notification-destinations"
    configs = [
        {"slack": {"url": "https://hooks.example/s", "channel_id": "C1", "oauth_token": "xoxb-1"}},
        {"pagerduty": {"integration_key": "pd-key"}},
        {"email": {"addresses": ["oncall@example.com"]}},
        {"generic_webhook": {"url": "https://hooks.example/w", "username": "u", "password": "p"}},
        {"microsoft_teams": {"url": "https://teams.example/t"}},
    ]
    ids = [
        r.call(settings.NotificationDestination, "POST", nd, json={"display_name": str(i), "config": c})["id"]
        for i, c in enumerate(configs)
    ]
    r.call(settings.NotificationDestination, "GET", f"{nd}/{ids[0]}")
    r.call(settings.NotificationDestination, "PATCH", f"{nd}/{ids[0]}", json={"display_name": "renamed"})
    r.call(settings.ListNotificationDestinationsResponse, "GET", nd)
    alert = {
        "display_name": "p99",
        "query_text": "SELECT 1 AS p99",
        "warehouse_id": warehouse["id"],
        "evaluation": {
            "source": {"name": "p99", "aggregation": "MAX"},
            "comparison_operator": "GREATER_THAN",
            "threshold": {"value": {"double_value": 250.5}},
            "notification": {"subscriptions": [{"destination_id": ids[1]}, {"user_email": "a@example.com"}]},
        },
        "schedule": {"quartz_cron_schedule": "0 0/5 * * * ?", "timezone_id": "UTC", "pause_status": "UNPAUSED"},
    }
    created = r.call(sql.AlertV2, "POST", "/api/2.0/alerts", json=alert)
    r.call(sql.AlertV2, "GET", f"/api/2.0/alerts/{created['id']}")
    r.call(
        sql.AlertV2, "PATCH", f"/api/2.0/alerts/{created['id']}?update_mask=display_name", json={"display_name": "x"}
    )
    r.call(sql.ListAlertsV2Response, "GET", "/api/2.0/alerts")
    assert r.api.request("DELETE", f"/api/2.0/alerts/{created['id']}").json() == {}
    r.call(sql.AlertV2, "GET", f"/api/2.0/alerts/{created['id']}")
    for destination in ids:
        assert r.api.request("DELETE", f"{nd}/{destination}").json() == {}
    gateway = {"inference_table_config": {"catalog_name": "main", "schema_name": "serving_logs", "enabled": True}}
    assert r.api.create("watched", [entity("1")], ai_gateway=gateway).status_code == 200
    monitor = "/api/2.1/unity-catalog/tables/main.serving_logs.watched_payload/monitor"
    body = {
        "output_schema_name": "main.serving_logs",
        "assets_dir": "/Shared/m",
        "inference_log": {
            "problem_type": "PROBLEM_TYPE_REGRESSION",
            "prediction_col": "p",
            "timestamp_col": "t",
            "model_id_col": "m",
            "granularities": ["1 day"],
        },
        "schedule": {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"},
    }
    r.call(catalog.MonitorInfo, "POST", monitor, json=body)
    r.call(catalog.MonitorInfo, "GET", monitor)
    r.call(catalog.MonitorInfo, "PUT", monitor, json={k: v for k, v in body.items() if k != "assets_dir"})
    r.call(catalog.DeleteMonitorResponse, "DELETE", monitor)
