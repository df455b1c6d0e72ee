"""What an external-model or provisioned-throughput endpoint declares, run as the real program under mocks:
the ModelServing's served entities, AI Gateway guardrails and budget policy, and what readiness probes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from review.engine import ProgramRun, run_program, unwrap

HOST = "https://adb-4210987654321098.18.azuredatabricks.net"
SP = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"
CHAT: dict[str, Any] = {
    "external_models": [
        {
            "provider": "openai",
            "model": "gpt-4o",
            "task": "llm/v1/chat",
            "config": {"openai_api_key": "{{secrets/llm/openai}}", "openai_organization": "org-risk"},
        },
        {
            "name": "claude",
            "provider": "anthropic",
            "model": "claude-sonnet-4",
            "task": "llm/v1/chat",
            "config": {"anthropic_api_key": "{{secrets/llm/anthropic}}"},
        },
    ],
    "traffic": {"gpt-4o": 80, "claude": 20},
    "access": {"query_service_principal": SP},
    "ai_gateway": {
        "rate_limits": [{"calls": 60}],
        "usage_tracking": True,
        "guardrails": {"input": {"safety": True, "pii": "BLOCK"}, "output": {"pii": "MASK"}},
    },
    "budget_policy_id": "bp-llm",
}
PT: dict[str, Any] = {
    "served_models": [
        {
            "model": "system.ai.llama_v3_2_3b_instruct",
            "version": 2,
            "provisioned_throughput": {"min": 0, "max": 9500},
            "scale_to_zero": True,
            "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/serving",
        },
        {
            "name": "units",
            "model": "system.ai.llama_v3_2_3b_instruct",
            "version": 3,
            "provisioned_model_units": 50,
            "burst_scaling": False,
        },
    ],
    "traffic": {"llama_v3_2_3b_instruct-2": 100, "units": 0},
    "access": {"query_service_principal": SP},
}


def run(key: str, endpoint: dict[str, Any]) -> ProgramRun:
    document = {"config": {"databricks:host": HOST, "databricks-serving:endpoints": {key: copy.deepcopy(endpoint)}}}
    return run_program("entities", document=document)


@pytest.fixture(scope="module")
def chat_run() -> ProgramRun:
    return run("chat", CHAT)


@pytest.fixture(scope="module")
def pt_run() -> ProgramRun:
    return run("llama", PT)


def test_external_models_are_served_entities_with_their_provider_config(chat_run):
    config = unwrap(chat_run.named("chat-endpoint").inputs)["config"]
    assert config["servedEntities"] == [
        {
            "name": "gpt-4o",
            "externalModel": {
                "name": "gpt-4o",
                "provider": "openai",
                "task": "llm/v1/chat",
                "openaiConfig": {"openaiApiKey": "{{secrets/llm/openai}}", "openaiOrganization": "org-risk"},
            },
        },
        {
            "name": "claude",
            "externalModel": {
                "name": "claude-sonnet-4",
                "provider": "anthropic",
                "task": "llm/v1/chat",
                "anthropicConfig": {"anthropicApiKey": "{{secrets/llm/anthropic}}"},
            },
        },
    ]
    assert config["trafficConfig"]["routes"] == [
        {"servedEntityName": "gpt-4o", "trafficPercentage": 80},
        {"servedEntityName": "claude", "trafficPercentage": 20},
    ]


def test_guardrails_go_to_the_ai_gateway_beside_limits_and_usage_tracking(chat_run):
    gateway = unwrap(chat_run.named("chat-endpoint").inputs)["aiGateway"]
    assert gateway["guardrails"] == {
        "input": {"safety": True, "pii": {"behavior": "BLOCK"}},
        "output": {"safety": False, "pii": {"behavior": "MASK"}},
    }
    assert gateway["usageTrackingConfig"] == {"enabled": True}


def test_the_budget_policy_is_sent_at_creation_and_ignored_afterwards(chat_run):
    endpoint = chat_run.named("chat-endpoint")
    assert unwrap(endpoint.inputs)["budgetPolicyId"] == "bp-llm"
    assert "budgetPolicyId" in endpoint.ignore_changes


def test_readiness_probes_each_external_model_for_its_task_and_warms_nothing(chat_run):
    inputs = unwrap(chat_run.named("chat-readiness").inputs)
    assert inputs["external_models"] == [
        {"name": "gpt-4o", "model": "gpt-4o", "task": "llm/v1/chat"},
        {"name": "claude", "model": "claude-sonnet-4", "task": "llm/v1/chat"},
    ]
    assert inputs["served_entities"] == []
    assert "input_example_json" not in inputs["warmup"]


def test_the_deployment_watch_follows_the_external_models_too(chat_run):
    inputs = unwrap(chat_run.named("chat-deployment").inputs)
    assert inputs["external_models"] == unwrap(chat_run.named("chat-readiness").inputs)["external_models"]
    assert inputs["served_entities"] == []


def test_a_provisioned_throughput_entity_sends_its_band_and_no_workload_type(pt_run):
    band, units = unwrap(pt_run.named("llama-endpoint").inputs)["config"]["servedEntities"]
    assert band == {
        "name": "llama_v3_2_3b_instruct-2",
        "entityName": "system.ai.llama_v3_2_3b_instruct",
        "entityVersion": "2",
        "minProvisionedThroughput": 0,
        "maxProvisionedThroughput": 9500,
        "scaleToZeroEnabled": True,
        "instanceProfileArn": "arn:aws:iam::123456789012:instance-profile/serving",
    }
    assert units == {
        "name": "units",
        "entityName": "system.ai.llama_v3_2_3b_instruct",
        "entityVersion": "3",
        "provisionedModelUnits": 50,
        "burstScalingEnabled": False,
        "scaleToZeroEnabled": False,
    }


def test_an_endpoint_without_new_kinds_declares_no_external_models_input():
    endpoint = copy.deepcopy(PT)
    del endpoint["served_models"][1]
    endpoint["traffic"] = None
    endpoint["served_models"][0] = {"model": "main.risk.risk_classifier", "version": 3, "workload_size": "Small"}
    inputs = unwrap(run("risk", endpoint).named("risk-readiness").inputs)
    assert "external_models" not in inputs


# --- the review -------------------------------------------------------------------------------------------------


def review_fields(program: ProgramRun, key: str) -> dict[str, Any]:
    from review.summary import summarize_run

    (summary,) = [s for s in summarize_run(program.resources) if s.name == f"{key}-endpoint"]
    return dict(summary.fields)


def test_the_review_shows_each_external_model_in_one_line_and_the_guardrails(chat_run):
    fields = review_fields(chat_run, "chat")
    assert fields["served_entities.gpt-4o.external_model"] == "openai gpt-4o (llm/v1/chat)"
    assert fields["served_entities.claude.external_model"] == "anthropic claude-sonnet-4 (llm/v1/chat)"
    assert "served_entities.gpt-4o.model" not in fields
    assert fields["ai_gateway.guardrails.input"] == "safety, pii BLOCK"
    assert fields["ai_gateway.guardrails.output"] == "pii MASK"
    assert fields["budget_policy_id (applies at creation only)"] == "bp-llm"


def test_the_review_shows_a_throughput_band_and_model_units(pt_run):
    fields = review_fields(pt_run, "llama")
    assert fields["served_entities.llama_v3_2_3b_instruct-2.provisioned_throughput"] == "0-9500 tokens/s"
    assert fields["served_entities.units.provisioned_model_units"] == 50
    assert "served_entities.units.provisioned_concurrency" not in fields


def test_the_declared_line_names_the_provider_model_and_task(chat_run):
    from review.changes import declared_lines
    from review.summary import summarize_run

    assert declared_lines(summarize_run(chat_run.resources)) == [
        "chat: chat serves openai gpt-4o (llm/v1/chat) 80%, anthropic claude-sonnet-4 (llm/v1/chat) 20%"
    ]
