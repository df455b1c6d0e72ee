"""The served-entity kinds beyond registered models, one rule each: external models (credentials only as
secret references), foundation models on provisioned throughput, guardrails, budget policy and instance
profile. Every problem names its stack key and what would be right; no credential is echoed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import StackConfigError, parse_stack_config
from components.plugin_resources import preflight_inputs

SP = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"
OPENAI_KEY = "{{secrets/llm/openai}}"
CHAT: dict[str, Any] = {
    "endpoints": {
        "chat": {
            "external_models": [
                {
                    "provider": "openai",
                    "model": "gpt-4o",
                    "task": "llm/v1/chat",
                    "config": {"openai_api_key": OPENAI_KEY},
                }
            ],
            "access": {"query_service_principal": SP},
        }
    },
}
PT: dict[str, Any] = {
    "endpoints": {
        "llama": {
            "served_models": [
                {
                    "model": "system.ai.llama_v3_2_3b_instruct",
                    "version": 2,
                    "provisioned_throughput": {"min": 0, "max": 9500},
                    "scale_to_zero": True,
                }
            ],
            "access": {"query_service_principal": SP},
        }
    },
}


def problems_of(base: dict[str, Any], change) -> list[str]:
    values = copy.deepcopy(base)
    change(values)
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config("prod", values)
    return caught.value.problems


def chat(values: dict[str, Any]) -> dict[str, Any]:
    return values["endpoints"]["chat"]


def gpt(values: dict[str, Any]) -> dict[str, Any]:
    return chat(values)["external_models"][0]


def llama(values: dict[str, Any]) -> dict[str, Any]:
    return values["endpoints"]["llama"]["served_models"][0]


# --- external models ---------------------------------------------------------------------------------------


def test_an_external_model_gets_the_served_name_databricks_derives_and_all_the_traffic():
    values = copy.deepcopy(CHAT)
    gpt(values)["model"] = "claude-3.5:sonnet"
    gpt(values).update(provider="anthropic", config={"anthropic_api_key": "{{secrets/llm/anthropic}}"})
    endpoint = parse_stack_config("prod", values).endpoints["chat"]
    assert endpoint.served_names == ["claude-3-5-sonnet"]
    assert endpoint.routes == {"claude-3-5-sonnet": 100}
    assert endpoint.external_models[0].config_field == "anthropic_config"


def test_an_external_api_key_in_plain_text_is_refused_and_not_echoed():
    problems = problems_of(CHAT, lambda v: gpt(v)["config"].update(openai_api_key="sk-live-abc123"))
    assert problems == [
        "endpoints.chat.external_models[0].config.openai_api_key = [hidden]: is a credential: write it as a "
        "reference `{{secrets/<scope>/<key>}}` to a Databricks secret"
    ]
    assert "sk-live" not in " ".join(problems)


def test_the_plaintext_twin_of_a_key_is_refused_naming_the_key_to_use():
    def change(values):
        gpt(values)["config"] = {"openai_api_key_plaintext": "sk-live-abc123"}

    problems = problems_of(CHAT, change)
    assert problems == [
        "endpoints.chat.external_models[0].config.openai_api_key_plaintext = [hidden]: a plaintext credential "
        "would be in the Pulumi state: set `openai_api_key` to a reference `{{secrets/<scope>/<key>}}` instead",
        "endpoints.chat.external_models[0].config: openai needs a credential: `openai_api_key` or "
        "`microsoft_entra_client_id` + `microsoft_entra_client_secret` + `microsoft_entra_tenant_id`",
    ]


def test_an_aws_access_key_in_plain_text_is_hidden_too():
    def change(values):
        gpt(values).update(
            provider="amazon-bedrock",
            model="anthropic.claude-v2",
            config={
                "aws_region": "us-east-1",
                "bedrock_provider": "anthropic",
                "aws_access_key_id": "AKIAABCDEFGHIJKLMNOP",
                "aws_secret_access_key": "{{secrets/llm/aws}}",
            },
        )

    problems = problems_of(CHAT, change)
    assert problems == [
        "endpoints.chat.external_models[0].config.aws_access_key_id = [hidden]: is a credential: write it as a "
        "reference `{{secrets/<scope>/<key>}}` to a Databricks secret"
    ]


def test_a_custom_provider_auth_value_in_plain_text_is_refused_and_hidden():
    def change(values):
        gpt(values).update(
            provider="custom",
            config={
                "custom_provider_url": "https://llm.example.com/v1",
                "api_key_auth": {"key": "X-Key", "value": "s3cr3t"},
            },
        )

    problems = problems_of(CHAT, change)
    assert problems == [
        "endpoints.chat.external_models[0].config.api_key_auth: `value` is a credential: write it as a "
        "reference `{{secrets/<scope>/<key>}}` to a Databricks secret"
    ]
    assert "s3cr3t" not in " ".join(problems)


def test_every_provider_config_problem_is_reported_at_once():
    def change(values):
        gpt(values).update(provider="google-cloud-vertex-ai", config={"project": "p1"})

    assert problems_of(CHAT, change) == [
        "endpoints.chat.external_models[0].config.project = 'p1': is not a google-cloud-vertex-ai setting; they "
        "are project_id, region, private_key",
        "endpoints.chat.external_models[0].config: google-cloud-vertex-ai needs `project_id`",
        "endpoints.chat.external_models[0].config: google-cloud-vertex-ai needs `region`",
        "endpoints.chat.external_models[0].config: google-cloud-vertex-ai needs a credential: `private_key`",
    ]


def test_azure_openai_needs_its_base_url_api_version_and_deployment():
    def change(values):
        gpt(values)["config"] |= {"openai_api_type": "azure", "openai_api_base": "https://x.openai.azure.com"}

    assert problems_of(CHAT, change) == [
        "endpoints.chat.external_models[0].config: Azure OpenAI (openai_api_type azure) needs openai_api_version, "
        "openai_deployment_name"
    ]


def test_a_bedrock_provider_outside_the_sdk_enum_is_refused():
    def change(values):
        gpt(values).update(
            provider="amazon-bedrock",
            config={"aws_region": "us-east-1", "bedrock_provider": "meta", "uc_service_credential_name": "bedrock"},
        )

    assert problems_of(CHAT, change) == [
        "endpoints.chat.external_models[0].config.bedrock_provider = 'meta': must be one of ai21labs, amazon, "
        "anthropic, cohere"
    ]


def test_an_external_model_takes_no_compute():
    (problem,) = problems_of(CHAT, lambda v: gpt(v).update(workload_size="Small"))
    assert problem.startswith("endpoints.chat.external_models[0].workload_size: unknown key")


def test_an_unknown_provider_and_task_are_refused_with_the_choices():
    problems = problems_of(CHAT, lambda v: gpt(v).update(provider="mistral", task="llm/v1/rerank"))
    assert len(problems) == 2
    assert problems[0].startswith("endpoints.chat.external_models[0].provider = 'mistral': ")
    assert "openai" in problems[0] and "amazon-bedrock" in problems[0]
    assert problems[1].startswith("endpoints.chat.external_models[0].task = 'llm/v1/rerank': ")
    assert "llm/v1/chat" in problems[1]


def test_the_external_models_of_an_endpoint_serve_one_task():
    def change(values):
        second = copy.deepcopy(gpt(values)) | {"model": "text-embedding-3-small", "task": "llm/v1/embeddings"}
        chat(values)["external_models"].append(second)
        chat(values)["traffic"] = {"gpt-4o": 100, "text-embedding-3-small": 0}

    assert problems_of(CHAT, change) == [
        "endpoints.chat.external_models: every external model of an endpoint serves the same task; found "
        "llm/v1/chat, llm/v1/embeddings"
    ]


def test_an_endpoint_does_not_mix_external_and_registered_models():
    def change(values):
        chat(values)["served_models"] = [{"model": "main.a.b", "version": 1, "workload_size": "Small"}]

    problems = problems_of(CHAT, change)
    assert problems[0] == (
        "endpoints.chat.external_models: an endpoint serves either registered models (served_models) or external "
        "models, not both: declare the external models on an endpoint of their own"
    )


def test_an_endpoint_needs_served_models_or_external_models():
    assert problems_of(CHAT, lambda v: chat(v).pop("external_models")) == [
        "endpoints.chat: declare served_models (registered models) or external_models"
    ]


def test_traffic_between_external_models_names_their_served_names():
    def change(values):
        second = copy.deepcopy(gpt(values)) | {"model": "gpt-4o-mini"}
        chat(values)["external_models"].append(second)
        chat(values)["traffic"] = {"gpt-4o": 80, "gpt4o-mini": 20}

    assert problems_of(CHAT, change) == [
        'endpoints.chat.traffic = {"gpt-4o": 80, "gpt4o-mini": 20}: routes name no served entity: gpt4o-mini; '
        "served entities without a route "
        "(0 is allowed): gpt-4o-mini; served entities are gpt-4o, gpt-4o-mini"
    ]


def test_a_rollout_is_for_registered_models_only():
    def change(values):
        chat(values)["rollout"] = {"stable": "gpt-4o", "candidate": "gpt-4o", "parity": {"examples": [{}]}}

    problems = problems_of(CHAT, change)
    assert (
        "endpoints.chat.rollout: a rollout moves traffic between registered model versions; set the external "
        "models' shares in traffic instead"
    ) in [
        problem.split(" = ")[0] + problem[problem.index(": ") :] if " = " in problem else problem
        for problem in problems
    ]


# --- provisioned throughput, instance profile, budget policy ------------------------------------------------


def test_a_provisioned_throughput_entity_is_valid_without_a_workload_size():
    model = parse_stack_config("prod", copy.deepcopy(PT)).endpoints["llama"].served_models[0]
    assert model.provisioned_throughput is not None
    assert (model.provisioned_throughput.min, model.provisioned_throughput.max) == (0, 9500)
    assert model.provisioned_throughput_entity


def test_a_throughput_band_is_ordered():
    assert problems_of(PT, lambda v: llama(v).update(provisioned_throughput={"min": 9500, "max": 950})) == [
        "endpoints.llama.served_models[0].provisioned_throughput: min (9500) must not exceed max (950)"
    ]


def test_one_capacity_per_served_entity():
    assert problems_of(PT, lambda v: llama(v).update(provisioned_model_units=50)) == [
        "endpoints.llama.served_models[0]: set one of workload_size, provisioned_concurrency, "
        "provisioned_throughput, provisioned_model_units, not provisioned_throughput and provisioned_model_units"
    ]


def test_provisioned_throughput_takes_no_workload_type():
    assert problems_of(PT, lambda v: llama(v).update(workload_type="GPU_LARGE")) == [
        "endpoints.llama.served_models[0].workload_type = 'GPU_LARGE': a served entity with provisioned_throughput "
        "runs on compute Databricks picks: remove workload_type"
    ]


def test_burst_scaling_needs_model_units():
    assert problems_of(PT, lambda v: llama(v).update(burst_scaling=False)) == [
        "endpoints.llama.served_models[0].burst_scaling = false: applies to provisioned_model_units only: set "
        "those, or remove it"
    ]


def test_model_units_are_positive():
    def change(values):
        llama(values).pop("provisioned_throughput")
        llama(values)["provisioned_model_units"] = 0

    (problem,) = problems_of(PT, change)
    assert problem.startswith("endpoints.llama.served_models[0].provisioned_model_units = 0: ")


def test_an_instance_profile_is_an_arn():
    assert problems_of(PT, lambda v: llama(v).update(instance_profile_arn="serving-profile")) == [
        "endpoints.llama.served_models[0].instance_profile_arn = 'serving-profile': must be an instance profile "
        "ARN `arn:aws:iam::<account id>:instance-profile/<name>`"
    ]
    values = copy.deepcopy(PT)
    llama(values)["instance_profile_arn"] = "arn:aws:iam::123456789012:instance-profile/serving"
    model = parse_stack_config("prod", values).endpoints["llama"].served_models[0]
    assert model.instance_profile_arn == "arn:aws:iam::123456789012:instance-profile/serving"


def test_a_budget_policy_id_is_kept_and_must_not_be_empty():
    values = copy.deepcopy(CHAT)
    chat(values)["budget_policy_id"] = "bp-7f3c"
    assert parse_stack_config("prod", values).endpoints["chat"].budget_policy_id == "bp-7f3c"
    (problem,) = problems_of(CHAT, lambda v: chat(v).update(budget_policy_id=""))
    assert problem.startswith("endpoints.chat.budget_policy_id = '': ")


# --- guardrails -------------------------------------------------------------------------------------------------


def test_guardrails_take_safety_and_a_pii_behaviour():
    values = copy.deepcopy(CHAT)
    chat(values)["ai_gateway"] = {"guardrails": {"input": {"safety": True, "pii": "BLOCK"}, "output": {"pii": "MASK"}}}
    guardrails = parse_stack_config("prod", values).endpoints["chat"].ai_gateway.guardrails
    assert guardrails.input.safety and guardrails.input.pii == "BLOCK"
    assert guardrails.output.pii == "MASK" and not guardrails.output.safety


def test_a_pii_behaviour_outside_block_mask_none_is_refused():
    (problem,) = problems_of(CHAT, lambda v: chat(v).update(ai_gateway={"guardrails": {"input": {"pii": "REDACT"}}}))
    assert problem.startswith("endpoints.chat.ai_gateway.guardrails.input.pii = 'REDACT': ")
    assert "BLOCK" in problem and "MASK" in problem


def test_the_preflight_checks_an_external_models_credentials_as_secret_references():
    values = copy.deepcopy(CHAT)
    values["endpoints"]["chat"]["external_models"].append(
        {
            "provider": "custom",
            "model": "in-house-llm",
            "task": "llm/v1/chat",
            "config": {
                "custom_provider_url": "https://llm.example.com/v1",
                "api_key_auth": {"key": "X-Api-Key", "value": "{{secrets/llm/in-house}}"},
            },
        }
    )
    values["endpoints"]["chat"]["traffic"] = {"gpt-4o": 90, "in-house-llm": 10}
    inputs = preflight_inputs(parse_stack_config("prod", values).spec("chat"))
    assert inputs["secret_references"] == [
        {"value": OPENAI_KEY, "key_path": "endpoints.chat.external_models[0].config.openai_api_key"},
        {
            "value": "{{secrets/llm/in-house}}",
            "key_path": "endpoints.chat.external_models[1].config.api_key_auth.value",
        },
    ]
