"""Readiness of external models against the emulator: ready once a probe request of their task is answered,
no warmup; a provider that refuses the probe fails readiness with its answer. The probe requests
themselves (serving.probes) are the smallest of each task."""

from __future__ import annotations

import uuid

import pytest
import requests
from databricks.sdk.core import Config

from provider.implementations import expectation_of
from serving.probes import PROBE_BODIES, probe_body
from serving.verification import PollPolicy, Readiness, ReadinessError
from serving.workspace import ServingClient
from tests.support import DEPLOYER_TOKEN

FAST = PollPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0, stale_config_grace=0.6, progress_every=60)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def client(workspace) -> ServingClient:
    return ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN)))


def create_external(workspace, name: str, models: dict[str, str]) -> None:
    """An endpoint of OpenAI models (served name -> task), all traffic on the first."""
    body = {
        "name": name,
        "config": {
            "served_entities": [
                {
                    "name": served,
                    "external_model": {
                        "name": served,
                        "provider": "openai",
                        "task": task,
                        "openai_config": {"openai_api_key": "{{secrets/llm/openai}}"},
                    },
                }
                for served, task in models.items()
            ],
            "traffic_config": {
                "routes": [
                    {"served_entity_name": served, "traffic_percentage": 100 if index == 0 else 0}
                    for index, served in enumerate(models)
                ]
            },
        },
    }
    response = requests.post(
        f"{workspace.url}/api/2.0/serving-endpoints", json=body, headers=workspace.headers(DEPLOYER_TOKEN), timeout=10
    )
    assert response.status_code == 200, response.text


def readiness_props(name: str, models: dict[str, str]) -> dict:
    """The readiness resource's inputs for that endpoint, as components.plugin_resources declares them."""
    return {
        "endpoint_name": name,
        "endpoint_id": f"id-{name}",
        "served_entities": [],
        "external_models": [{"name": served, "model": served, "task": task} for served, task in models.items()],
        "traffic": {served: 100 if index == 0 else 0 for index, served in enumerate(models)},
        "timeout_seconds": 20,
        "warmup": {"timeout_seconds": 20},
        "route_optimized": False,
    }


def test_every_task_has_a_one_token_probe():
    assert probe_body("llm/v1/chat") == {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
    assert probe_body("llm/v1/completions") == {"prompt": "ping", "max_tokens": 1}
    assert probe_body("llm/v1/embeddings") == {"input": "ping"}
    assert sorted(PROBE_BODIES) == ["llm/v1/chat", "llm/v1/completions", "llm/v1/embeddings"]
    with pytest.raises(ValueError, match="no probe request for task 'llm/v1/rerank'"):
        probe_body("llm/v1/rerank")


def test_an_external_model_is_ready_once_its_probe_is_answered_without_a_warmup(workspace, client):
    name = unique("chat")
    models = {"gpt-4o": "llm/v1/chat", "gpt-4o-mini": "llm/v1/chat"}
    create_external(workspace, name, models)
    before = workspace.counters()["invocations"].get(name, {})

    verified = Readiness(client, expectation_of(readiness_props(name, models)), FAST, log=lambda _: None).run()

    assert verified.verified_versions == {"gpt-4o": "", "gpt-4o-mini": ""}
    assert sorted(verified.warmed) == ["gpt-4o", "gpt-4o-mini"]
    assert {entity: warm.attempts for entity, warm in verified.warmed.items()} == {"gpt-4o": 1, "gpt-4o-mini": 1}
    invocations = workspace.counters()["invocations"][name]
    # One probe each, sent to the served entity directly (0% included): nothing else was sent.
    assert {entity: invocations[entity] - before.get(entity, 0) for entity in models} == {
        "gpt-4o": 1,
        "gpt-4o-mini": 1,
    }


def test_a_provider_that_keeps_failing_the_probe_fails_readiness_at_the_warmup_deadline(workspace, client):
    name = unique("embed")
    models = {"text-embedding-3-small": "llm/v1/embeddings"}
    create_external(workspace, name, models)
    workspace.burst(name, count=1000, status_code=503, served_entity="text-embedding-3-small")
    props = readiness_props(name, models)
    props["warmup"] = {"timeout_seconds": 1}

    with pytest.raises(ReadinessError) as caught:
        Readiness(client, expectation_of(props), FAST, log=lambda _: None).run()

    message = str(caught.value)
    assert "served entity text-embedding-3-small did not answer a llm/v1/embeddings probe request" in message
    assert "last answer: HTTP 503" in message
    workspace.clear_faults(name)


def test_the_fingerprint_of_an_endpoint_without_external_models_is_unchanged():
    props = readiness_props("risk", {})
    props["served_entities"] = [
        {"name": "risk-3", "entity_name": "main.risk.risk", "entity_version": "3", "scale_to_zero": False}
    ]
    props["traffic"] = {"risk-3": 100}
    props.pop("external_models")
    with_external = dict(props, external_models=[{"name": "gpt-4o", "model": "gpt-4o", "task": "llm/v1/chat"}])
    plain = expectation_of(props)
    assert plain.probes == {}
    assert expectation_of(with_external).fingerprint() != plain.fingerprint()
    assert plain.fingerprint() == expectation_of(dict(props, external_models=[])).fingerprint()
