"""Create and update requests are checked like Databricks checks them; errors have the sdk's shape."""

from __future__ import annotations

import pytest

from tests.emulator.support import entity, routes


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error_code"]


@pytest.mark.parametrize("name", ["has space", "dots.not.allowed", "x" * 64, "", "databricks-mine"])
def test_invalid_endpoint_name_is_400_invalid_parameter_value(api, name):
    assert _error(api.create(name, [entity("1")])) == (400, "INVALID_PARAMETER_VALUE")


def test_name_of_63_letters_digits_dashes_and_underscores_is_accepted(api):
    assert api.create("A-b_9" + "x" * 58, [entity("1")]).status_code == 200


def test_duplicate_name_is_409_resource_already_exists(api):
    api.create("ep", [entity("1")])

    response = api.create("ep", [entity("2")])

    assert _error(response) == (409, "RESOURCE_ALREADY_EXISTS")
    assert response.json()["message"] == "Endpoint with name 'ep' already exists."


def test_more_than_15_served_entities_is_rejected(api):
    entities = [entity("1", name=f"e{i}") for i in range(16)]
    traffic = routes(**{f"e{i}": (100 if i == 0 else 0) for i in range(16)})

    response = api.create("ep", entities, traffic)

    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "at most 15" in response.json()["message"]


def test_15_served_entities_are_accepted(api):
    traffic = routes(**{f"e{i}": (100 if i == 0 else 0) for i in range(15)})

    assert api.create("ep", [entity("1", name=f"e{i}") for i in range(15)], traffic).status_code == 200


def test_config_without_served_entities_is_rejected(api):
    assert _error(api.create("ep", [])) == (400, "INVALID_PARAMETER_VALUE")


def test_route_to_an_unknown_entity_is_rejected(api):
    response = api.create("ep", [entity("1", name="a")], routes(a=50, ghost=50))

    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "'ghost'" in response.json()["message"]


def test_traffic_not_summing_to_100_is_rejected(api):
    response = api.create("ep", [entity("1", name="a"), entity("2", name="b")], routes(a=50, b=40))

    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "sum to 90" in response.json()["message"]


def test_entity_without_a_route_is_rejected(api):
    response = api.create("ep", [entity("1", name="a"), entity("2", name="b")], routes(a=100))

    assert "missing: ['b']" in response.json()["message"]


def test_several_entities_without_traffic_config_are_rejected(api):
    assert _error(api.create("ep", [entity("1", name="a"), entity("2", name="b")])) == (400, "INVALID_PARAMETER_VALUE")


def test_a_single_entity_without_traffic_config_gets_all_traffic(api):
    body = api.create("ep", [entity("1")]).json()

    assert body["pending_config"]["traffic_config"]["routes"] == [
        {"served_model_name": "risk_classifier-1", "served_entity_name": "risk_classifier-1", "traffic_percentage": 100}
    ]


def test_route_may_name_its_entity_by_served_model_name(api):
    traffic = {"routes": [{"served_model_name": "a", "traffic_percentage": 100}]}

    assert api.create("ep", [entity("1", name="a")], traffic).status_code == 200


def test_workload_size_together_with_provisioned_concurrency_is_rejected(api):
    both = entity("1", min_provisioned_concurrency=4, max_provisioned_concurrency=8)

    response = api.create("ep", [both])

    assert "exactly one of workload_size" in response.json()["message"]


def test_neither_workload_size_nor_provisioned_concurrency_is_rejected(api):
    neither = {"entity_name": "main.risk.risk_classifier", "entity_version": "1"}

    assert _error(api.create("ep", [neither])) == (400, "INVALID_PARAMETER_VALUE")


def test_provisioned_concurrency_must_be_multiples_of_4(api):
    odd = {
        "entity_name": "main.risk.risk_classifier",
        "entity_version": "1",
        "min_provisioned_concurrency": 2,
        "max_provisioned_concurrency": 8,
    }

    assert _error(api.create("ep", [odd])) == (400, "INVALID_PARAMETER_VALUE")


def test_unknown_workload_size_is_rejected(api):
    assert _error(api.create("ep", [entity("1", workload_size="Huge")])) == (400, "INVALID_PARAMETER_VALUE")


def test_duplicate_served_entity_names_are_rejected(api):
    response = api.create("ep", [entity("1", name="a"), entity("2", name="a")], routes(a=100))

    assert "repeated: ['a']" in response.json()["message"]


def test_service_fills_name_workload_type_and_scale_to_zero(api):
    served = api.create("ep", [entity("2")]).json()["pending_config"]["served_entities"][0]

    assert (served["name"], served["workload_type"], served["scale_to_zero_enabled"], served["workload_size"]) == (
        "risk_classifier-2",
        "CPU",
        False,
        "Small",
    )


def test_environment_vars_are_kept(api):
    env = {"MODE": "strict", "API_TOKEN": "{{secrets/scope/key}}"}

    served = api.create("ep", [entity("1", environment_vars=env)]).json()["pending_config"]["served_entities"][0]

    assert served["environment_vars"] == env


def test_served_models_form_is_read_as_served_entities(api):
    body = {
        "name": "ep",
        "config": {
            "served_models": [
                {"model_name": "main.risk.risk_classifier", "model_version": "1", "workload_size": "Small"}
            ]
        },
    }

    served = api.request("POST", "/api/2.0/serving-endpoints", json=body).json()["pending_config"]["served_entities"]

    assert [(s["name"], s["entity_name"]) for s in served] == [("risk_classifier-1", "main.risk.risk_classifier")]


def test_wrongly_typed_field_is_400_invalid_parameter_value(api):
    response = api.request("POST", "/api/2.0/serving-endpoints", json={"name": "ep", "config": {"served_entities": 3}})

    assert _error(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "config.served_entities" in response.json()["message"]


def test_unknown_endpoint_is_404_resource_does_not_exist(api):
    response = api.get("nope")

    assert _error(response) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert response.json()["message"] == "Endpoint with name 'nope' does not exist."


def test_unknown_path_is_404_endpoint_not_found(api):
    response = api.request("GET", "/api/2.0/nothing-here")

    assert _error(response) == (404, "ENDPOINT_NOT_FOUND")
    assert "No API found for 'GET /api/2.0/nothing-here'" in response.json()["message"]


# ---- legacy inference tables (config.auto_capture_config) -------------------------------------------

CAPTURE = {"catalog_name": "main", "schema_name": "serving", "table_name_prefix": "risk"}


@pytest.mark.parametrize("capture", [CAPTURE, {**CAPTURE, "enabled": True}], ids=["implied", "enabled"])
def test_a_legacy_inference_table_on_create_is_refused(api, capture):
    response = api.request(
        "POST",
        "/api/2.0/serving-endpoints",
        json={"name": "ep", "config": {"served_entities": [entity("1")], "auto_capture_config": capture}},
    )

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert response.json()["message"].startswith(
        "Legacy inference tables can not be enabled on new or existing model serving endpoints"
    )
    assert "ai_gateway.inference_table_config" in response.json()["message"]
    assert api.get("ep").status_code == 404


def test_a_legacy_inference_table_on_a_config_update_is_refused(api):
    api.create_ready("ep", [entity("1")])

    response = api.request(
        "PUT",
        "/api/2.0/serving-endpoints/ep/config",
        json={"served_entities": [entity("2")], "auto_capture_config": CAPTURE},
    )

    assert response.status_code == 400
    assert "Legacy inference tables" in response.json()["message"]
    assert api.endpoint("ep")["state"]["config_update"] == "NOT_UPDATING"


def test_turning_a_legacy_inference_table_off_is_accepted_and_shows_nothing(api):
    api.create_ready("ep", [entity("1")])

    response = api.request(
        "PUT",
        "/api/2.0/serving-endpoints/ep/config",
        json={"served_entities": [entity("2")], "auto_capture_config": {"enabled": False}},
    )

    assert response.status_code == 200
    assert "auto_capture_config" not in api.wait_settled("ep")["config"]


def test_an_ai_gateway_inference_table_is_accepted_on_create(api):
    table = {**CAPTURE, "enabled": True}

    body = api.create_ready("ep", [entity("1")], ai_gateway={"inference_table_config": table})

    assert body["ai_gateway"] == {"inference_table_config": table}
