"""External models and a foundation model on provisioned throughput under the real engine: the dev stack given
two more endpoints, deployed by the `pulumi` CLI with the databricks stand-in and our plugin into the emulator.

What the real engine shows that the mock engine cannot: the external model block crosses the engine and the
databricks plugin with the API's names (`openai_config.openai_api_key`), the readiness of an external model is a
probe of its task (no warmup, no cold start waited out), and a second preview finds nothing to change.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator.settings import default_models
from tests.e2e.support import endpoints_of

pytestmark = pytest.mark.engine

LLAMA = "system.ai.llama_v3_2_3b_instruct"
DEPLOYER = "6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"
PROBE = '{"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}'


def with_llm_endpoints(data: dict[str, Any]) -> None:
    endpoints = endpoints_of(data)
    access = {"query_service_principal": "3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10"}
    endpoints["assistant"] = {
        "external_models": [
            {
                "provider": "openai",
                "model": "gpt-4o",
                "task": "llm/v1/chat",
                "config": {"openai_api_key": "{{secrets/llm/openai}}"},
            },
            {
                "provider": "anthropic",
                "model": "claude-sonnet-4",
                "task": "llm/v1/chat",
                "config": {"anthropic_api_key": "{{secrets/llm/anthropic}}"},
            },
        ],
        "traffic": {"gpt-4o": 90, "claude-sonnet-4": 10},
        "budget_policy_id": "budget-policy-llm",
        "ai_gateway": {
            "rate_limits": [{"calls": 600}],
            "usage_tracking": True,
            "guardrails": {"input": {"safety": True, "pii": "BLOCK"}, "output": {"pii": "MASK"}},
        },
        "access": access,
    }
    endpoints["llama"] = {
        "served_models": [
            {"model": LLAMA, "version": 2, "provisioned_throughput": {"min": 0, "max": 9500}, "scale_to_zero": True}
        ],
        "access": access,
    }


SETTINGS: dict[str, Any] = {
    "models": {
        **{name: model.model_dump() for name, model in default_models().items()},
        LLAMA: {"columns": ["prompt_length"], "versions": [2]},
    },
    "workspace_objects": {
        "secret_scopes": {"fraud-scoring": ["feature-store-token"], "llm": ["openai", "anthropic"]},
        # Foundation models live in the `system` catalog: the deployer needs EXECUTE there as on `main`.
        "grants": {catalog: {DEPLOYER: ["USE_CATALOG", "USE_SCHEMA", "EXECUTE"]} for catalog in ("main", "system")},
    },
}


def test_external_and_provisioned_throughput_endpoints_deploy_verify_and_show_no_change(deploy):
    deployment = deploy("dev", with_llm_endpoints, SETTINGS)

    up = deployment.up()

    assert up.returncode == 0, up.stdout + up.stderr
    assistant = deployment.endpoint("dev-assistant")
    assert assistant["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    served = {entity["name"]: entity["external_model"] for entity in assistant["config"]["served_entities"]}
    assert served["gpt-4o"] == {
        "name": "gpt-4o",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {"openai_api_key": "{{secrets/llm/openai}}"},
    }
    assert served["claude-sonnet-4"]["anthropic_config"] == {"anthropic_api_key": "{{secrets/llm/anthropic}}"}
    assert deployment.traffic("dev-assistant") == {"gpt-4o": 90, "claude-sonnet-4": 10}
    gateway = deployment.api("GET", "/api/2.0/serving-endpoints/dev-assistant").json()["ai_gateway"]
    assert gateway["guardrails"]["input"] == {"safety": True, "pii": {"behavior": "BLOCK"}}
    assert gateway["guardrails"]["output"]["pii"] == {"behavior": "MASK"}

    outputs = deployment.outputs()
    assert outputs["assistant"]["verified_versions"] == {"gpt-4o": "", "claude-sonnet-4": ""}
    assert outputs["llama"]["verified_versions"] == {"llama_v3_2_3b_instruct-2": "2"}
    llama = deployment.endpoint("dev-llama")["config"]["served_entities"][0]
    assert (llama["min_provisioned_throughput"], llama["max_provisioned_throughput"]) == (0, 9500)

    counters = deployment.counters()
    # One probe of its task per external model, straight at the served entity; nothing was warmed up.
    assert counters["request_bodies"]["dev-assistant"] == [PROBE, PROBE]
    assert "dev-assistant" not in counters.get("warmups", {})

    again = deployment.pulumi("preview", "--diff", "--expect-no-changes")
    assert again.returncode == 0, again.stdout
