"""Route-optimized endpoints: their own URL on the data-plane listener, queried there with an OAuth token
for that endpoint only; the workspace's OAuth token endpoint that issues it."""

from __future__ import annotations

import json

import pytest
import requests

from tests.emulator.support import DEPLOYER, ROW, WorkspaceApi, entity

SECRET = "emulator-deployer-oauth-secret"
TOKEN_PATH = "/oidc/v1/token"


def _token(emu, *, client_id: str = DEPLOYER, secret: str = SECRET, **form: str) -> requests.Response:
    return requests.post(
        f"{emu.url}{TOKEN_PATH}",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", **form},
        timeout=10,
    )


def _route_optimized(api: WorkspaceApi, name: str = "fast", query_by_deployer: bool = True) -> dict:
    body = api.create_ready(name, [entity("1")], route_optimized=True)
    if query_by_deployer:
        api.permissions(body["id"], "PATCH", [{"service_principal_name": DEPLOYER, "permission_level": "CAN_QUERY"}])
    return body


def _endpoint_token(emu, endpoint: dict) -> str:
    details = endpoint["data_plane_info"]["query_info"]["authorization_details"]
    response = _token(emu, authorization_details=details)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _query(url: str, token: str) -> requests.Response:
    return requests.post(
        url, json={"dataframe_records": [ROW]}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_a_normal_endpoint_has_no_endpoint_url(api):
    body = api.create_ready("plain", [entity("1")])

    assert "endpoint_url" not in body
    assert "data_plane_info" not in body


def test_a_route_optimized_endpoint_url_is_its_workspace_path_on_the_data_plane_listener(api, emu):
    body = _route_optimized(api)

    expected = f"{emu.data_plane_url}/{emu.settings.workspace_id}/serving-endpoints/fast/invocations"
    assert body["endpoint_url"] == expected
    assert body["data_plane_info"]["query_info"]["endpoint_url"] == expected
    assert not body["endpoint_url"].startswith(emu.url)
    assert body["route_optimized"] is True


def test_data_plane_info_names_the_endpoint_id_and_the_query_action(api):
    body = _route_optimized(api)

    assert json.loads(body["data_plane_info"]["query_info"]["authorization_details"]) == [
        {
            "type": "workspace_permission",
            "object_type": "serving-endpoints",
            "object_path": f"/serving-endpoints/{body['id']}",
            "actions": ["query_inference_endpoint"],
        }
    ]


def test_an_oauth_token_for_the_endpoint_queries_it_at_its_url(api, emu):
    body = _route_optimized(api)

    response = _query(body["endpoint_url"], _endpoint_token(emu, body))

    assert response.status_code == 200, response.text
    assert response.headers["served-model-name"] == "risk_classifier-1"
    assert len(response.json()["predictions"]) == 1


def test_a_personal_access_token_is_refused_at_the_endpoint_url(api, emu):
    body = _route_optimized(api)

    response = _query(body["endpoint_url"], emu.token(DEPLOYER))

    assert response.status_code == 401
    assert "personal access tokens are not supported" in response.json()["message"]


def test_a_workspace_oauth_token_without_the_endpoint_detail_is_refused(api, emu):
    body = _route_optimized(api)
    workspace_token = _token(emu).json()["access_token"]

    response = _query(body["endpoint_url"], workspace_token)

    assert response.status_code == 403
    assert "authorization_details" in response.json()["message"]


def test_a_token_for_one_endpoint_does_not_query_another(api, emu):
    first, second = _route_optimized(api, "first"), _route_optimized(api, "second")

    response = _query(second["endpoint_url"], _endpoint_token(emu, first))

    assert response.status_code == 403


def test_the_sdk_exchange_of_a_workspace_token_for_an_endpoint_token_works(api, emu):
    body = _route_optimized(api)
    workspace_token = _token(emu).json()["access_token"]

    exchanged = requests.post(
        f"{emu.url}{TOKEN_PATH}",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": workspace_token,
            "authorization_details": body["data_plane_info"]["query_info"]["authorization_details"],
        },
        timeout=10,
    )

    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json()["token_type"] == "Bearer"
    assert _query(body["endpoint_url"], exchanged.json()["access_token"]).status_code == 200


def test_a_personal_access_token_cannot_be_exchanged(api, emu):
    body = _route_optimized(api)

    response = requests.post(
        f"{emu.url}{TOKEN_PATH}",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": emu.token(DEPLOYER),
            "authorization_details": body["data_plane_info"]["query_info"]["authorization_details"],
        },
        timeout=10,
    )

    assert (response.status_code, response.json()["error"]) == (401, "invalid_grant")


def test_a_token_for_an_endpoint_the_principal_cannot_query_is_not_issued(api, emu):
    body = _route_optimized(api, query_by_deployer=False)  # created by an admin; the deployer holds nothing

    response = _token(emu, authorization_details=body["data_plane_info"]["query_info"]["authorization_details"])

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_authorization_details",
        "error_description": "User is not authorized to the requested authorizations",
    }


def test_a_wrong_client_secret_is_401_invalid_client(emu):
    response = _token(emu, secret="not-the-secret")

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_losing_can_query_after_the_token_was_issued_refuses_the_query(api, emu):
    body = _route_optimized(api)
    token = _endpoint_token(emu, body)

    api.permissions(body["id"], "PUT", [])

    assert _query(body["endpoint_url"], token).status_code == 403


def test_the_workspace_url_does_not_serve_a_route_optimized_endpoint(api):
    _route_optimized(api)

    response = api.invoke("fast")

    assert response.status_code == 400
    assert "route-optimized" in response.json()["message"]


@pytest.mark.parametrize("path", ["/api/2.0/serving-endpoints", "/serving-endpoints/fast/invocations"])
def test_the_data_plane_listener_serves_nothing_but_route_optimized_invocations(api, emu, path):
    response = requests.get(f"{emu.data_plane_url}{path}", headers=emu.headers(), timeout=10)

    assert (response.status_code, response.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")


def test_the_workspace_listener_does_not_serve_the_route_optimized_path(api, emu):
    body = _route_optimized(api)
    on_workspace_host = body["endpoint_url"].replace(emu.data_plane_url, emu.url)

    assert _query(on_workspace_host, _endpoint_token(emu, body)).status_code == 404


def test_an_endpoint_token_is_not_valid_on_the_workspace_apis(api, emu):
    body = _route_optimized(api)

    response = requests.get(
        f"{emu.url}/api/2.0/serving-endpoints/fast",
        headers={"Authorization": f"Bearer {_endpoint_token(emu, body)}"},
        timeout=10,
    )

    assert response.status_code == 401


def test_a_workspace_oauth_token_is_valid_on_the_workspace_apis(api, emu):
    _route_optimized(api)
    token = _token(emu).json()["access_token"]

    response = requests.get(
        f"{emu.url}/api/2.0/serving-endpoints/fast", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )

    assert response.status_code == 200
    assert response.json()["permission_level"] == "CAN_QUERY"


def test_oauth_discovery_points_at_the_token_endpoint(emu):
    metadata = requests.get(f"{emu.url}/.well-known/databricks-config", timeout=10).json()
    server = requests.get(f"{metadata['oidc_endpoint']}/.well-known/oauth-authorization-server", timeout=10).json()

    assert metadata == {"workspace_id": emu.settings.workspace_id, "oidc_endpoint": f"{emu.url}/oidc"}
    assert server["token_endpoint"] == f"{emu.url}{TOKEN_PATH}"


def test_route_optimized_is_kept_by_a_config_update(api):
    _route_optimized(api)

    api.update_config("fast", [entity("2")])

    assert api.wait_settled("fast")["route_optimized"] is True
