"""`pulumi preview`, `up`, `refresh` and `destroy` by the real CLI, with the databricks plugin and ours."""

from __future__ import annotations

import json

import pytest
import yaml

from emulator.settings import default_tokens
from local_workspace.workspace import stack_file_for
from tests.e2e.support import endpoints_of, short_bakes

pytestmark = pytest.mark.engine  # make e2e; make test leaves these out

SECRET_TOKEN = "dapi-e2e-distinctive-9f3c1a7b"
"""A credential that must appear nowhere: not in the state, the outputs, or anything the CLI printed."""


def changing_calls(counters: dict) -> dict[str, int]:
    return {route: count for route, count in counters["api_calls"].items() if not route.startswith("GET ") and count}


def test_a_preview_of_dev_and_of_prod_sends_no_request_that_changes_the_workspace(deploy):
    for stack in ("dev", "prod"):
        deployment = deploy(stack, short_bakes() if stack == "prod" else None)
        preview = deployment.pulumi("preview", "--diff")

        assert preview.returncode == 0, preview.stdout + preview.stderr
        # dev: the stack, the servingops provider, the preflight, and the endpoint's component with its endpoint,
        # deployment watch, permissions and readiness; prod: two such endpoints, plus a rollout and notifications,
        # and their monitoring: five alerts (the fraud scorer has no latency alert) and a drift monitor.
        assert f"+ {8 if stack == 'dev' else 21} to create" in preview.stdout, preview.stdout
        assert changing_calls(deployment.counters()) == {}
        assert deployment.endpoint_names() == []


def test_a_preflight_finding_fails_the_preview_with_its_key_path(deploy):
    def unregistered_version(data):
        endpoints_of(data)["risk-classifier"]["served_models"][0]["version"] = 99

    deployment = deploy("dev", unregistered_version)
    preview = deployment.pulumi("preview")

    assert preview.returncode != 0
    assert "endpoints.risk-classifier.served_models[0].version" in preview.stdout
    assert "Traceback" not in preview.stdout + preview.stderr
    assert changing_calls(deployment.counters()) == {}


def test_up_creates_the_endpoint_its_permissions_and_verifies_it_and_a_second_preview_shows_no_change(deploy):
    deployment = deploy("dev")

    up = deployment.up()

    assert up.returncode == 0, up.stdout + up.stderr
    outputs = deployment.outputs()["risk-classifier"]
    assert outputs["name"] == "dev-risk-classifier"
    assert outputs["invocation_url"] == f"{deployment.workspace.url}/serving-endpoints/dev-risk-classifier/invocations"
    assert outputs["verified_versions"] == {"risk_classifier-4": "4"}
    endpoint = deployment.endpoint("dev-risk-classifier")
    assert endpoint["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert outputs["id"] == endpoint["id"]
    grants = deployment.api("GET", f"/api/2.0/permissions/serving-endpoints/{endpoint['id']}").json()
    direct = {
        (e.get("service_principal_name") or e.get("user_name") or e.get("group_name"), p["permission_level"])
        for e in grants["access_control_list"]
        for p in e["all_permissions"]
        if not p.get("inherited")
    }
    assert ("3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10", "CAN_QUERY") in direct

    again = deployment.pulumi("preview", "--diff", "--expect-no-changes")
    assert again.returncode == 0, again.stdout
    refresh = deployment.pulumi("refresh", "--yes", "--skip-preview")
    assert refresh.returncode == 0, refresh.stdout + refresh.stderr
    after_refresh = deployment.pulumi("preview", "--diff", "--expect-no-changes")
    assert after_refresh.returncode == 0, after_refresh.stdout


def test_prod_deploys_with_its_rollout_and_shows_no_change_after_up_and_after_refresh(deploy):
    deployment = deploy("prod", short_bakes())

    up = deployment.up()

    assert up.returncode == 0, up.stdout + up.stderr
    assert deployment.traffic("prod-risk-classifier") == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    outputs = deployment.outputs()
    assert outputs["risk-classifier"]["verified_versions"] == {"risk_classifier-3": "3", "risk_classifier-4": "4"}
    assert outputs["fraud-scorer"]["verified_versions"] == {"fraud_scorer-2": "2"}
    # No perpetual diff: tags, AI Gateway, notifications, description, permissions, the deployer's CAN_MANAGE.
    for step in ("after up", "after refresh"):
        preview = deployment.pulumi("preview", "--diff", "--expect-no-changes")
        assert preview.returncode == 0, f"{step}:\n{preview.stdout}"
        if step == "after up":
            refresh = deployment.pulumi("refresh", "--yes", "--skip-preview")
            assert refresh.returncode == 0, refresh.stdout + refresh.stderr


def test_no_credential_reaches_the_state_the_outputs_or_any_log(deploy, tmp_path):
    tokens = {token: spec.model_dump() for token, spec in default_tokens().items()}
    tokens[SECRET_TOKEN] = tokens.pop("dapi-emulator-deployer")
    deployment = deploy("dev", settings={"tokens": tokens})
    # The deployer's token as a secret of the stack, as a user would keep it (not the environment).
    secret = deployment.pulumi("config", "set", "--secret", "databricks:token", SECRET_TOKEN)
    assert secret.returncode == 0, secret.stderr
    # `config set` rewrites the stack file with go-yaml, writing the example's `1200.0` as `1200` (README,
    # "Stack secrets"): put the stack file's own text back with the encrypted token the CLI wrote.
    copy = deployment.workspace.stack_file
    cipher = yaml.safe_load(copy.read_text())["config"]["databricks:token"]["secure"]
    own = stack_file_for("dev", deployment.workspace.url, project=copy.parent).read_text()
    copy.write_text(own.replace("config:\n", f"config:\n  databricks:token:\n    secure: {cipher}\n", 1))
    deployment.workspace.env.pop("DATABRICKS_TOKEN")

    up = deployment.up()

    assert up.returncode == 0, up.stdout + up.stderr
    exported = json.dumps(deployment.export())
    printed = up.stdout + up.stderr + deployment.pulumi("stack", "output", "--json").stdout
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "local").rglob("*.log"))
    for where, text in (("state", exported), ("CLI output", printed), ("logs", logs)):
        assert SECRET_TOKEN not in where and SECRET_TOKEN not in text, where
    assert "secure:" in deployment.workspace.stack_file.read_text()


def test_an_invalid_stack_file_fails_the_preview_with_our_message_and_no_traceback(deploy):
    def misspelt(data):
        endpoints_of(data)["risk-classifier"]["served_models"][0]["workload_sise"] = "Small"

    deployment = deploy("dev", misspelt)
    preview = deployment.pulumi("preview")

    assert preview.returncode != 0
    assert "workload_sise" in preview.stdout
    assert "did you mean" in preview.stdout.lower()
    assert "Traceback" not in preview.stdout + preview.stderr


def test_destroy_leaves_the_workspace_empty(deploy):
    deployment = deploy("prod", short_bakes())
    assert deployment.up().returncode == 0
    assert deployment.endpoint_names() == ["prod-fraud-scorer", "prod-risk-classifier"]

    destroy = deployment.pulumi("destroy", "--yes", "--skip-preview")

    assert destroy.returncode == 0, destroy.stdout + destroy.stderr
    assert deployment.endpoint_names() == []
    assert [r["type"] for r in deployment.export()["deployment"].get("resources") or []] == []


def test_a_served_entity_that_fails_to_deploy_fails_up_with_the_entity_its_reason_and_build_log(deploy):
    deployment = deploy("dev")
    failed = deployment.emulator.admin(
        "POST",
        "faults/fail-next-deployment",
        {
            "endpoint": "dev-risk-classifier",
            "served_entity": "risk_classifier-4",
            "message": "Container build failed: pip could not resolve scikit-learn==9.9",
        },
    )
    assert failed.status_code == 200, failed.text

    up = deployment.up()

    assert up.returncode != 0
    # On the endpoint's own row, before the provider's own words (which are all it says).
    row = up.stdout.split("databricks:index:ModelServing (risk-classifier-endpoint):", 1)[1]
    assert row.lstrip().startswith(
        "error: endpoint dev-risk-classifier cannot serve: served entity "
        "risk_classifier-4 (main.risk.risk_classifier v4) DEPLOYMENT_FAILED: "
    )
    assert "pip could not resolve scikit-learn==9.9" in row.split("error: cannot create model serving")[0]
    assert "last build log lines of risk_classifier-4:" in row
    assert "Traceback" not in up.stdout + up.stderr
