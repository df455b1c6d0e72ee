"""`--state-file`: the workspace's endpoints outlive the emulator process, as a real workspace outlives a deployment."""

from __future__ import annotations

import json
import time

import requests

from emulator.monitoring import PROD_ONCALL_DESTINATION
from emulator.testing import emulator_process
from tests.emulator.support import FAST, RISK

PERMISSIONS = {"access_control_list": [{"group_name": "ml-platform-oncall", "permission_level": "CAN_MANAGE"}]}


def settled(url: str, headers: dict, name: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        body = requests.get(f"{url}/api/2.0/serving-endpoints/{name}", headers=headers, timeout=5).json()
        if body["state"]["config_update"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def endpoints(emu) -> dict:
    return requests.get(
        f"{emu.url}/api/2.0/serving-endpoints", headers=emu.headers(emu.token("admin@example.com")), timeout=5
    ).json()


def test_endpoints_tags_grants_and_gateway_come_back_after_a_restart(tmp_path):
    state_file = tmp_path / "workspace.json"
    with emulator_process(**FAST, args=["--state-file", str(state_file)]) as emu:
        headers = emu.headers(emu.token("admin@example.com"))
        created = requests.post(
            f"{emu.url}/api/2.0/serving-endpoints",
            headers=headers,
            timeout=5,
            json={
                "name": "kept",
                "tags": [{"key": "owner", "value": "ml"}],
                "ai_gateway": {"usage_tracking_config": {"enabled": True}},
                "config": {"served_entities": [{"entity_name": RISK, "entity_version": "3", "workload_size": "Small"}]},
            },
        )
        assert created.status_code == 200, created.text
        before = settled(emu.url, headers, "kept")
        endpoint_id = before["id"]
        put = requests.put(
            f"{emu.url}/api/2.0/permissions/serving-endpoints/{endpoint_id}",
            headers=headers,
            json=PERMISSIONS,
            timeout=5,
        )
        assert put.status_code == 200, put.text
        grants_before = put.json()

    saved = json.loads(state_file.read_text())
    assert [e["name"] for e in saved["endpoints"]] == ["kept"]

    with emulator_process(**FAST, args=["--state-file", str(state_file)]) as emu:
        headers = emu.headers(emu.token("admin@example.com"))
        after = settled(emu.url, headers, "kept")
        grants_after = requests.get(
            f"{emu.url}/api/2.0/permissions/serving-endpoints/{endpoint_id}", headers=headers, timeout=5
        ).json()

    assert after == before
    assert grants_after == grants_before


def test_without_a_state_file_nothing_is_kept(tmp_path):
    with emulator_process(**FAST) as emu:
        headers = emu.headers(emu.token("admin@example.com"))
        requests.post(
            f"{emu.url}/api/2.0/serving-endpoints",
            headers=headers,
            timeout=5,
            json={
                "name": "gone",
                "config": {"served_entities": [{"entity_name": RISK, "entity_version": "3", "workload_size": "Small"}]},
            },
        )
    with emulator_process(**FAST) as emu:
        listed = endpoints(emu)
    assert listed.get("endpoints", []) == []


def test_an_unreadable_state_file_starts_an_empty_workspace_and_says_so(tmp_path):
    state_file = tmp_path / "workspace.json"
    state_file.write_text("{not json")
    with emulator_process(**FAST, args=["--state-file", str(state_file)]) as emu:
        listed = endpoints(emu)
    assert listed.get("endpoints", []) == []
    # Saved on stop: an empty workspace, in the current format.
    assert json.loads(state_file.read_text()) == {
        "format": 1,
        "endpoints": [],
        # What the workspace starts with: the destination its admins made (emulator.monitoring), nothing else.
        "monitoring": {
            "destinations": {
                PROD_ONCALL_DESTINATION: {
                    "display_name": "ml-platform-oncall",
                    "kind": "email",
                    "fields": {"addresses": ["ml-platform-oncall@example.com"]},
                }
            },
            "alerts": {},
            "monitors": {},
        },
    }
