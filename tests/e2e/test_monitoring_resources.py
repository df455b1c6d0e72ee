"""The monitoring resources under the real engine: a tiny program of its own (tests/e2e/programs/
monitoring_resources.py) declares a notification destination, an alert v2 on a warehouse looked up by name,
and a quality monitor; the real `pulumi` CLI runs it with the databricks stand-in against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from local_workspace.workspace import LocalWorkspace
from tests.e2e.support import QUICK, free_port

pytestmark = pytest.mark.engine

PROGRAM = Path(__file__).parent / "programs" / "monitoring_resources.py"
TABLE = "main.serving_logs.risk_classifier_payload"
PAGER_KEY = "pd-integration-key-e2e-0042"
ADMIN_TOKEN = "dapi-emulator-admin"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalWorkspace]:
    stack_file = tmp_path / "Pulumi.monitoring.yaml"
    stack_file.write_text("config:\n  databricks-serving:alertThreshold: 250.0\n", encoding="utf-8")
    settings = tmp_path / "emulator-settings.yaml"
    settings.write_text(
        yaml.safe_dump({**QUICK, "monitoring": {"tables": [TABLE], "notification_destinations": {}}}), encoding="utf-8"
    )
    local = LocalWorkspace(
        tmp_path / "local",
        "monitoring",
        free_port(),
        stack_source=stack_file,
        emulator_settings=settings,
        program=PROGRAM,
    )
    with local.started() as started:
        # Only workspace admins write notification destinations; the credential stays in the environment.
        started.env["DATABRICKS_TOKEN"] = ADMIN_TOKEN
        done = started.pulumi("config", "set", "--secret", "pagerKey", PAGER_KEY, capture=True)
        assert done.returncode == 0, done.stderr
        yield started


def _api(workspace: LocalWorkspace, path: str) -> dict:
    import requests

    answer = requests.get(f"{workspace.url}{path}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _run(workspace: LocalWorkspace, *args: str) -> str:
    done = workspace.pulumi(*args, capture=True, timeout=600)
    assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_destination_alert_and_monitor_deploy_change_and_go(workspace):
    _run(workspace, "up", "--yes", "--skip-preview")
    outputs = json.loads(_run(workspace, "stack", "output", "--json", "--show-secrets"))
    destination = _api(workspace, f"/api/2.0/notification-destinations/{outputs['destinationId']}")
    assert destination["config"] == {"pagerduty": {"integration_key_set": True}}
    alert = _api(workspace, f"/api/2.0/alerts/{outputs['alertId']}")
    assert alert["evaluation"]["notification"]["subscriptions"] == [{"destination_id": outputs["destinationId"]}]
    assert alert["evaluation"]["threshold"]["value"]["double_value"] == 250.0
    assert outputs["monitorStatus"] == "MONITOR_STATUS_ACTIVE"

    # The integration key is a secret everywhere the engine keeps it.
    assert PAGER_KEY not in _run(workspace, "stack", "export")
    assert PAGER_KEY not in _run(workspace, "stack", "output", "--json")

    _run(workspace, "preview", "--expect-no-changes")
    _run(workspace, "config", "set", "alertThreshold", "400.0")
    _run(workspace, "up", "--yes", "--skip-preview")
    moved = _api(workspace, f"/api/2.0/alerts/{outputs['alertId']}")  # the same alert, updated in place
    assert moved["evaluation"]["threshold"]["value"]["double_value"] == 400.0
    _run(workspace, "preview", "--expect-no-changes")

    _run(workspace, "destroy", "--yes", "--skip-preview")
    assert _api(workspace, "/api/2.0/notification-destinations").get("results", []) == []
    assert _api(workspace, "/api/2.0/alerts").get("alerts", []) == []
