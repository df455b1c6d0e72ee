"""`python -m review import`: live endpoints back into stack-file entries and a `pulumi import` file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from emulator.testing import EmulatorHandle
from review.engine import run_program
from tests.support import (
    DEPLOYER_TOKEN,
    QUERY_PRINCIPAL,
    adopt,
    create_by_hand,
    deploy_by_config,
    emulator_workspace,
    review,
    wait_until_not_updating,
)

COMPONENT = "serving:index:ServingEndpoint"


def resource_tree(*argv: str) -> list[dict[str, Any]]:
    """The offline review's JSON resource tree: type, name, parent and every reviewable field."""
    status, out, err = review(*argv, "--json")
    assert status == 0, out + err
    return [
        {key: resource[key] for key in ("type", "name", "parent", "fields")}
        for resource in json.loads(out)["resources"]
    ]


@pytest.fixture
def workspace(monkeypatch) -> Iterator[EmulatorHandle]:
    yield from emulator_workspace(monkeypatch)


@pytest.fixture
def adopted_prod(workspace: EmulatorHandle, tmp_path: Path) -> tuple[int, str, Path]:
    """The prod stack deployed by config into the emulator, then imported back."""
    deploy_by_config(workspace, run_program("prod"))
    status, out, err = adopt("--stack", "prod", "--output-dir", str(tmp_path))
    assert err == ""
    return status, out, tmp_path


def test_the_review_of_the_imported_prod_stack_equals_the_original(adopted_prod):
    status, _, directory = adopted_prod
    assert status == 0
    assert resource_tree("prod", "--stack-file", str(directory / "Pulumi.prod.yaml")) == resource_tree("prod")


def test_the_import_file_names_each_resource_as_the_component_names_its_children(adopted_prod):
    _, _, directory = adopted_prod
    imported = json.loads((directory / "import.json").read_text())["resources"]
    run = run_program("prod")
    components = {resource.urn: resource.name for resource in run.resources if resource.type == COMPONENT}
    declared = {(resource.type, resource.name, components.get(resource.parent)) for resource in run.resources}
    assert {(item["type"], item["name"], item.get("parent")) for item in imported} <= declared
    assert [item["name"] for item in imported if item.get("component")] == ["fraud-scorer", "risk-classifier"]


def test_the_import_ids_are_the_endpoint_name_and_the_permissions_object_id(workspace, adopted_prod):
    _, _, directory = adopted_prod
    imported = {item["name"]: item for item in json.loads((directory / "import.json").read_text())["resources"]}
    endpoint = wait_until_not_updating(workspace, "prod-risk-classifier")
    assert imported["risk-classifier-endpoint"]["id"] == "prod-risk-classifier"
    assert imported["risk-classifier-permissions"]["id"] == f"/serving-endpoints/{endpoint['id']}"
    assert "id" not in imported["risk-classifier"]


def test_an_endpoint_made_by_a_raw_api_call_imports_into_a_valid_stack_file(workspace, tmp_path):
    create_by_hand(
        workspace, "prod-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    status, out, err = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path))
    assert status == 0, out + err
    written = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    entry = written["config"]["databricks-serving:endpoints"]["recommender"]
    assert entry["served_models"] == [
        {"model": "main.recs.recommender", "version": 7, "workload_size": "Small", "scale_to_zero": False}
    ]
    assert entry["access"] == {"query_service_principal": QUERY_PRINCIPAL}
    assert "traffic" not in entry and "tags" not in entry
    # The stack file's own endpoints are kept next to the adopted one.
    assert set(written["config"]["databricks-serving:endpoints"]) == {"fraud-scorer", "risk-classifier", "recommender"}
    assert review("prod", "--stack-file", str(tmp_path / "Pulumi.prod.yaml"))[0] == 0


def test_an_endpoint_with_no_query_principal_is_written_with_the_key_to_edit_and_exit_4(workspace, tmp_path):
    create_by_hand(workspace, "prod-recommender", [])
    status, out, _ = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path), "--json")
    assert status == 4
    report = json.loads(out)
    assert any(
        problem.startswith("endpoints.recommender.access.query_service_principal") for problem in report["problems"]
    )


def test_a_plaintext_credential_is_never_copied(workspace, tmp_path):
    token = "dapi0123456789abcdef0123456789abcdef"
    headers = workspace.headers(DEPLOYER_TOKEN)
    body = {
        "name": "prod-recommender",
        "config": {
            "served_entities": [
                {
                    "entity_name": "main.recs.recommender",
                    "entity_version": "7",
                    "workload_size": "Small",
                    "scale_to_zero_enabled": False,
                    "environment_vars": {"API_TOKEN": token},
                }
            ]
        },
    }
    assert requests.post(f"{workspace.url}/api/2.0/serving-endpoints", json=body, headers=headers, timeout=10).ok
    wait_until_not_updating(workspace, "prod-recommender")
    status, out, err = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path))
    assert status == 4
    assert token not in out + err + (tmp_path / "Pulumi.prod.yaml").read_text()
    assert "environment variable API_TOKEN holds a credential in plain text" in out


def test_without_endpoint_names_every_endpoint_with_the_stack_prefix_is_adopted(workspace, tmp_path):
    create_by_hand(
        workspace, "prod-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    create_by_hand(
        workspace, "dev-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path), "--json")
    assert status == 0
    assert [endpoint["name"] for endpoint in json.loads(out)["endpoints"]] == ["prod-recommender"]


def test_an_endpoint_outside_the_stack_prefix_is_not_adopted_and_exit_4(workspace, tmp_path):
    create_by_hand(
        workspace, "dev-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    status, out, _ = adopt("--stack", "prod", "dev-recommender", "--output-dir", str(tmp_path))
    assert status == 4
    assert "dev-recommender does not start with the stack's name_prefix `prod-`" in out


def test_an_unknown_endpoint_is_invalid_input_exit_2(workspace, tmp_path):
    status, _, err = adopt("--stack", "prod", "prod-nothing", "--output-dir", str(tmp_path))
    assert status == 2
    assert "endpoint prod-nothing does not exist" in err


def test_the_import_only_reads_the_workspace(workspace, tmp_path):
    create_by_hand(
        workspace, "prod-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    before = workspace.counters()["api_calls"]
    adopt("--stack", "prod", "--output-dir", str(tmp_path))
    calls = {call: count - before.get(call, 0) for call, count in workspace.counters()["api_calls"].items()}
    assert {call.split()[0] for call, count in calls.items() if count} == {"GET"}
