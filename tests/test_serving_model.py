"""The typed model of what the serving endpoints API returns (serving.model), parsed once from its JSON."""

from __future__ import annotations

from databricks.sdk.service.serving import ServingEndpointDetailed

from serving.model import (
    EndpointStateConfigUpdate,
    EndpointStateReady,
    ServedModelStateDeployment,
    ServingEndpoint,
)

EMULATOR_BODY = {
    "id": "ep-1",
    "name": "risk",
    "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
    "config": {
        "served_entities": [
            {
                "name": "risk_classifier-3",
                "entity_name": "main.risk.risk_classifier",
                "entity_version": "3",
                "workload_type": "CPU",
                "workload_size": "Small",
                "scale_to_zero_enabled": True,
                "environment_vars": {"MODE": "strict"},
                "state": {"deployment": "DEPLOYMENT_READY", "deployment_state_message": ""},
            },
            {
                "name": "risk_classifier-4",
                "entity_name": "main.risk.risk_classifier",
                "entity_version": "4",
                "min_provisioned_concurrency": 4,
                "max_provisioned_concurrency": 8,
                "state": {"deployment": "DEPLOYMENT_FAILED", "deployment_state_message": "build failed"},
            },
        ],
        "traffic_config": {
            "routes": [
                {
                    "served_model_name": "risk_classifier-3",
                    "served_entity_name": "risk_classifier-3",
                    "traffic_percentage": 90,
                },
                {
                    "served_model_name": "risk_classifier-4",
                    "served_entity_name": "risk_classifier-4",
                    "traffic_percentage": 10,
                },
            ]
        },
        "config_version": 2,
    },
}


def test_an_emulator_body_parses_into_states_entities_and_routes():
    endpoint = ServingEndpoint.from_dict(EMULATOR_BODY)
    assert (endpoint.name, endpoint.id, endpoint.config and endpoint.config.config_version) == ("risk", "ep-1", 2)
    assert endpoint.state.ready is EndpointStateReady.READY
    assert endpoint.state.config_update is EndpointStateConfigUpdate.NOT_UPDATING
    stable, candidate = endpoint.config.served_entities
    assert (stable.scale_to_zero_enabled, stable.workload_size, dict(stable.environment_vars)) == (
        True,
        "Small",
        {"MODE": "strict"},
    )
    assert stable.ready and not candidate.ready
    assert candidate.deployment is ServedModelStateDeployment.DEPLOYMENT_FAILED and candidate.state.failed
    assert candidate.state.deployment_state_message == "build failed"
    assert (candidate.min_provisioned_concurrency, candidate.max_provisioned_concurrency) == (4, 8)
    assert endpoint.traffic == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert endpoint.serving() == "risk_classifier-3 v3 90%, risk_classifier-4 v4 10%"
    assert endpoint.pending_config is None


def test_a_body_the_sdk_writes_parses_the_same():
    sdk_body = ServingEndpointDetailed.from_dict(EMULATOR_BODY).as_dict()
    assert ServingEndpoint.from_dict(sdk_body) == ServingEndpoint.from_dict(EMULATOR_BODY)


def test_a_state_a_newer_api_adds_is_kept_as_unknown_with_its_text():
    body = {**EMULATOR_BODY, "state": {"ready": "READY", "config_update": "UPDATE_PAUSED"}}
    update = ServingEndpoint.from_dict(body).state.config_update
    assert update.is_unknown and update.name == "UNKNOWN" and update.value == "UPDATE_PAUSED"
    assert update != EndpointStateConfigUpdate.IN_PROGRESS and not update.failed


def test_an_absent_state_reads_as_unknown():
    endpoint = ServingEndpoint.from_dict({"name": "new"})
    assert endpoint.state.ready.value == "UNKNOWN" and endpoint.state.ready.is_unknown
    assert endpoint.config is None and endpoint.traffic == {} and endpoint.serving() == "nothing"


def test_a_legacy_served_models_config_is_read_as_served_entities():
    body = {
        "name": "old",
        "state": {"ready": "READY"},
        "config": {
            "served_models": [
                {
                    "name": "fraud-2",
                    "model_name": "fraud",
                    "model_version": "2",
                    "state": {"deployment": "DEPLOYMENT_CREATING"},
                }
            ],
            "traffic_config": {"routes": [{"served_model_name": "fraud-2", "traffic_percentage": 100}]},
        },
    }
    config = ServingEndpoint.from_dict(body).config
    assert config is not None
    [entity] = config.served_entities
    assert (entity.name, entity.entity_name, entity.entity_version) == ("fraud-2", "fraud", "2")
    assert entity.deployment is ServedModelStateDeployment.DEPLOYMENT_CREATING
    assert config.traffic == {"fraud-2": 100}


def test_a_served_entity_without_a_name_gets_the_default_name():
    body = {
        "name": "e",
        "config": {"served_entities": [{"entity_name": "main.credit.risk_classifier", "entity_version": "4"}]},
    }
    config = ServingEndpoint.from_dict(body).config
    assert config is not None and config.served_entities[0].name == "risk_classifier-4"


def test_a_route_optimized_endpoint_says_where_it_answers():
    body = {
        **EMULATOR_BODY,
        "route_optimized": True,
        "data_plane_info": {
            "query_info": {
                "endpoint_url": "https://x/serving-endpoints/risk/invocations",
                "authorization_details": "[]",
            }
        },
    }
    endpoint = ServingEndpoint.from_dict(body)
    assert endpoint.route_optimized and endpoint.query_info is not None
    assert endpoint.query_info.endpoint_url == "https://x/serving-endpoints/risk/invocations"
