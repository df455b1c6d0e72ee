"""The databricks stand-in's diff and shapes follow terraform-provider-databricks (databricks_standin/README.md).

What a real provider's plan shows decides whether `pulumi preview` after `pulumi up` is clean, so each rule
read in the provider's source is held here: zero values, computed fields, sets, the route name pair, and
the names the bridge gives Terraform attributes.
"""

from __future__ import annotations

from databricks_standin.resources import MODEL_SERVING_SHAPE, PERMISSIONS_SHAPE
from databricks_standin.shape import changed_paths, project, to_api

DECLARED = {
    "name": "dev-risk-classifier",
    "routeOptimized": False,
    "config": {
        "servedEntities": [
            {
                "entityName": "main.risk.risk_classifier",
                "entityVersion": "4",
                "workloadSize": "Small",
                "scaleToZeroEnabled": True,
                "environmentVars": {"SCORE_THRESHOLD": "0.82"},
            }
        ],
        "trafficConfig": {"routes": [{"servedEntityName": "risk_classifier-4", "trafficPercentage": 100.0}]},
    },
    "tags": [{"key": "owner", "value": "ml"}, {"key": "env", "value": "dev"}],
    "emailNotifications": {"onUpdateFailures": ["oncall@example.com"]},
}
LIVE = {
    "id": "8281edb2100cf88b3d87f666b263cd78",
    "name": "dev-risk-classifier",
    "creator": "deployer",
    "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
    "config": {
        "served_entities": [
            {
                "name": "risk_classifier-4",
                "entity_name": "main.risk.risk_classifier",
                "entity_version": "4",
                "workload_size": "Small",
                "workload_type": "CPU",
                "scale_to_zero_enabled": True,
                "environment_vars": {"SCORE_THRESHOLD": "0.82"},
                "state": {"deployment": "DEPLOYMENT_READY"},
            }
        ],
        "traffic_config": {
            "routes": [
                {
                    "served_entity_name": "risk_classifier-4",
                    "served_model_name": "risk_classifier-4",
                    "traffic_percentage": 100,
                }
            ]
        },
        "config_version": 1,
    },
    "tags": [{"key": "env", "value": "dev"}, {"key": "owner", "value": "ml"}],
    "email_notifications": {"on_update_failure": ["oncall@example.com"]},
}


def test_the_request_body_has_the_apis_names_integers_and_map_keys_as_written():
    body = to_api(DECLARED, MODEL_SERVING_SHAPE)
    assert body["config"]["traffic_config"]["routes"] == [
        {"served_entity_name": "risk_classifier-4", "traffic_percentage": 100}
    ]
    assert isinstance(body["config"]["traffic_config"]["routes"][0]["traffic_percentage"], int)
    assert body["config"]["served_entities"][0]["environment_vars"] == {"SCORE_THRESHOLD": "0.82"}
    assert body["email_notifications"] == {"on_update_failure": ["oncall@example.com"]}
    assert body["route_optimized"] is False


def test_the_state_of_an_endpoint_is_its_answer_on_the_schemas_fields_only():
    state = project(LIVE, MODEL_SERVING_SHAPE)
    assert "state" not in state["config"]["servedEntities"][0] and "creator" not in state
    assert state["config"]["servedEntities"][0]["workloadType"] == "CPU"
    assert state["emailNotifications"] == {"onUpdateFailures": ["oncall@example.com"], "onUpdateSuccesses": None}


def test_an_endpoint_as_declared_shows_no_change():
    # The route's served_model_name the server fills in, a computed entity name and workload type, tags in
    # another order, route_optimized false against nothing: none is a change.
    state = project({**LIVE, "route_optimized": None}, MODEL_SERVING_SHAPE)
    assert changed_paths(state, DECLARED, MODEL_SERVING_SHAPE) == []


def test_a_changed_version_tag_or_share_is_a_change_at_its_path():
    state = project(LIVE, MODEL_SERVING_SHAPE)
    declared = {**DECLARED, "tags": [{"key": "owner", "value": "someone-else"}, {"key": "env", "value": "dev"}]}
    declared["config"] = {
        **DECLARED["config"],
        "servedEntities": [{**DECLARED["config"]["servedEntities"][0], "entityVersion": "5"}],
    }
    assert sorted(changed_paths(state, declared, MODEL_SERVING_SHAPE)) == [
        "config.servedEntities[0].entityVersion",
        "tags",
    ]


def test_a_value_left_out_that_terraform_does_not_compute_is_a_change_to_nothing():
    state = project({**LIVE, "description": "by hand"}, MODEL_SERVING_SHAPE)
    assert changed_paths(state, DECLARED, MODEL_SERVING_SHAPE) == ["description"]


def test_permissions_are_a_set_with_names_compared_case_insensitively():
    recorded = {
        "servingEndpointId": "abc",
        "accessControls": [
            {"servicePrincipalName": "3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10", "permissionLevel": "CAN_QUERY"},
            {"groupName": "ml-platform-oncall", "permissionLevel": "CAN_MANAGE"},
        ],
    }
    declared = {
        "servingEndpointId": "abc",
        "accessControls": [
            {"groupName": "ml-platform-oncall", "permissionLevel": "CAN_MANAGE"},
            {"servicePrincipalName": "3F6B2A1C-8D4E-4B7A-9C0D-2E5F7A8B9C10", "permissionLevel": "CAN_QUERY"},
        ],
    }
    assert changed_paths(recorded, declared, PERMISSIONS_SHAPE) == []
    widened = {
        **declared,
        "accessControls": [*declared["accessControls"], {"groupName": "users", "permissionLevel": "CAN_QUERY"}],
    }
    assert changed_paths(recorded, widened, PERMISSIONS_SHAPE) == ["accessControls"]


def test_an_external_model_goes_out_with_the_sdks_names_and_comes_back_as_declared():
    declared = {
        "name": "chat",
        "config": {
            "servedEntities": [
                {
                    "name": "claude",
                    "externalModel": {
                        "name": "claude-sonnet-4",
                        "provider": "anthropic",
                        "task": "llm/v1/chat",
                        "anthropicConfig": {"anthropicApiKey": "{{secrets/llm/anthropic}}"},
                    },
                },
                {
                    "name": "titan",
                    "externalModel": {
                        "name": "amazon.titan-embed-text-v2:0",
                        "provider": "amazon-bedrock",
                        "task": "llm/v1/embeddings",
                        "amazonBedrockConfig": {"awsRegion": "eu-west-1", "bedrockProvider": "amazon"},
                    },
                },
            ]
        },
    }
    body = to_api(declared, MODEL_SERVING_SHAPE)
    claude, titan = body["config"]["served_entities"]
    assert claude["external_model"] == {
        "name": "claude-sonnet-4",
        "provider": "anthropic",
        "task": "llm/v1/chat",
        "anthropic_config": {"anthropic_api_key": "{{secrets/llm/anthropic}}"},
    }
    assert titan["external_model"]["amazon_bedrock_config"] == {"aws_region": "eu-west-1", "bedrock_provider": "amazon"}
    assert changed_paths(declared, project(body, MODEL_SERVING_SHAPE), MODEL_SERVING_SHAPE) == []
