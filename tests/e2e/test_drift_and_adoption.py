"""Under the real engine: a change made by hand, seen by refresh and undone by up; endpoints adopted by import."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from local_workspace.workspace import DEPLOYER_TOKEN, ROOT, stack_file_for

pytestmark = pytest.mark.engine  # make e2e; make test leaves these out

ENDPOINT = "dev-risk-classifier"
QUERY_PRINCIPAL = "3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10"


def steps_by_type(preview_json: str) -> dict[str, set[str]]:
    ops: dict[str, set[str]] = {}
    for step in json.loads(preview_json).get("steps", []):
        ops.setdefault(step["newState"]["type"] if step.get("newState") else step["oldState"]["type"], set()).add(
            step["op"]
        )
    return ops


def test_a_tag_changed_by_hand_shows_after_refresh_and_up_puts_it_back(deploy):
    deployment = deploy("dev")
    assert deployment.up().returncode == 0
    patched = deployment.api(
        "PATCH",
        f"/api/2.0/serving-endpoints/{ENDPOINT}/tags",
        {"add_tags": [{"key": "owner", "value": "someone-else"}]},
    )
    assert patched.status_code == 200, patched.text

    assert deployment.pulumi("preview", "--expect-no-changes").returncode == 0  # the state does not know yet
    refresh = deployment.pulumi("refresh", "--yes", "--skip-preview")
    assert refresh.returncode == 0, refresh.stdout + refresh.stderr
    preview = deployment.pulumi("preview", "--diff")
    assert preview.returncode == 0
    assert "~ 1 to update" in preview.stdout and "someone-else" in preview.stdout

    up = deployment.up()
    assert up.returncode == 0, up.stdout
    tags = {t["key"]: t.get("value") for t in deployment.endpoint(ENDPOINT)["tags"]}
    assert tags["owner"] == "ml-platform"
    assert deployment.pulumi("preview", "--expect-no-changes").returncode == 0


def test_a_traffic_and_version_change_by_hand_is_undone_and_verified_again(deploy):
    deployment = deploy("dev")
    assert deployment.up().returncode == 0
    changed = deployment.api(
        "PUT",
        f"/api/2.0/serving-endpoints/{ENDPOINT}/config",
        {
            "served_entities": [
                {
                    "name": "risk_classifier-3",
                    "entity_name": "main.risk.risk_classifier",
                    "entity_version": "3",
                    "workload_size": "Small",
                    "scale_to_zero_enabled": True,
                }
            ]
        },
    )
    assert changed.status_code == 200, changed.text
    deadline = time.monotonic() + 30
    while deployment.endpoint(ENDPOINT)["state"]["config_update"] == "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.2)

    assert deployment.pulumi("refresh", "--yes", "--skip-preview").returncode == 0
    up = deployment.up()

    assert up.returncode == 0, up.stdout
    served = deployment.endpoint(ENDPOINT)["config"]["served_entities"]
    assert [(e["name"], e["entity_version"]) for e in served] == [("risk_classifier-4", "4")]
    assert "serving risk_classifier-4 v4 100%, verified" in up.stdout
    assert deployment.outputs()["risk-classifier"]["verified_versions"] == {"risk_classifier-4": "4"}


def test_endpoints_made_by_raw_api_calls_are_adopted_by_import_and_then_show_no_change(deploy, tmp_path):
    deployment = deploy("dev")
    # Made by the team's deploying service principal with raw API calls, before this project existed.
    created = deployment.api(
        "POST",
        "/api/2.0/serving-endpoints",
        token=DEPLOYER_TOKEN,
        body={
            "name": ENDPOINT,
            "config": {
                "served_entities": [
                    {
                        "entity_name": "main.risk.risk_classifier",
                        "entity_version": "4",
                        "workload_size": "Small",
                        "scale_to_zero_enabled": True,
                    }
                ]
            },
            "tags": [
                {"key": "environment", "value": "dev"},
                {"key": "owner", "value": "ml-platform"},
                {"key": "cost-center", "value": "cc-4711"},
            ],
            "description": "Credit risk classifier, dev copy for integration tests.",
        },
    )
    assert created.status_code == 200, created.text
    endpoint_id = created.json()["id"]
    granted = deployment.api(
        "PATCH",
        f"/api/2.0/permissions/serving-endpoints/{endpoint_id}",
        token=DEPLOYER_TOKEN,
        body={"access_control_list": [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]},
    )
    assert granted.status_code == 200, granted.text

    adopted_dir = tmp_path / "adopted"
    adopt = subprocess.run(
        [sys.executable, "-m", "review", "import", "--stack", "dev", "--output-dir", str(adopted_dir)],
        cwd=ROOT,
        env=deployment.workspace.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    assert [r["type"] for r in json.loads((adopted_dir / "import.json").read_text())["resources"]] == [
        "serving:index:ServingEndpoint",
        "databricks:index/modelServing:ModelServing",
        "databricks:index/permissions:Permissions",
    ]
    stack_file_for("dev", deployment.workspace.url, adopted_dir / "Pulumi.dev.yaml", deployment.workspace.project)
    imported = deployment.pulumi("import", "--file", str(adopted_dir / "import.json"), "--yes", "--generate-code=false")
    assert imported.returncode == 0, imported.stdout + imported.stderr

    preview = deployment.pulumi("preview", "--json")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    ops = steps_by_type(preview.stdout)
    # The adopted endpoint and its grants are taken as they are; only this project's own checks are new.
    assert ops["databricks:index/modelServing:ModelServing"] == {"same"}
    assert ops["databricks:index/permissions:Permissions"] == {"same"}
    assert ops["servingops:index:EndpointReadiness"] == {"create"}
