"""Shared fixtures: the real program run under Pulumi's mock engine, once per stack file."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from components.config import StackConfig, parse_stack_config
from review.engine import ProgramRun, project_name, run_program, stack_file, stacks

STACKS = stacks()


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, ProgramRun]:
    """Each stack file of the repo, run through the real `__main__.py` under mocks."""
    return {stack: run_program(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def stack_documents() -> dict[str, dict[str, Any]]:
    """Each stack file of the repo, parsed."""
    return {stack: yaml.safe_load(stack_file(stack).read_text()) for stack in STACKS}


@pytest.fixture
def prod_document(stack_documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A private copy of Pulumi.prod.yaml for a test to change."""
    return copy.deepcopy(stack_documents["prod"])


def project_values(document: dict[str, Any]) -> dict[str, Any]:
    """The stack file's keys of this project, without their namespace (`endpoints`, `defaults`)."""
    prefix = f"{project_name()}:"
    return {key[len(prefix) :]: value for key, value in document["config"].items() if key.startswith(prefix)}


def stack_config(document: dict[str, Any], stack: str = "test") -> StackConfig:
    return parse_stack_config(stack, project_values(document))


# --------------------------------------------------------------------------------------------------
# The local workspace (emulator) for the readiness provider's tests


DEPLOYER_TOKEN = "dapi-emulator-deployer"
"""The emulator's token for the deploying service principal (what `pulumi up` runs as)."""


@pytest.fixture(scope="module")
def workspace():
    """A fast emulator on loopback: updates take 0.3 s, cold starts 1 s, first requests 0.1 s."""
    from emulator.testing import running_emulator

    with running_emulator(
        update_seconds=0.3, cold_start_seconds=1.0, model_load_seconds=0.1, scale_to_zero_idle_seconds=30
    ) as handle:
        yield handle


def create_endpoint(
    workspace,
    name: str,
    versions: dict[str, int],
    *,
    model: str = "main.risk.risk_classifier",
    scale_to_zero: bool = False,
    token: str = DEPLOYER_TOKEN,
) -> dict[str, Any]:
    """Create an endpoint as pulumi-databricks would: served entity `<short>-<version>` per version -> share."""
    import requests

    short = model.rsplit(".", 1)[-1]
    body = {
        "name": name,
        "config": {
            "served_entities": [
                {
                    "name": f"{short}-{version}",
                    "entity_name": model,
                    "entity_version": str(version),
                    "workload_size": "Small",
                    "scale_to_zero_enabled": scale_to_zero,
                }
                for version in versions
            ],
            "traffic_config": {
                "routes": [
                    {"served_entity_name": f"{short}-{version}", "traffic_percentage": share}
                    for version, share in versions.items()
                ]
            },
        },
    }
    response = requests.post(
        f"{workspace.url}/api/2.0/serving-endpoints", json=body, headers=workspace.headers(token), timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()
