"""Helpers the end-to-end test modules share: the emulator's quick durations, stack-file variants, a deployment."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from local_workspace.workspace import ROOT, LocalWorkspace, stack_file_for

Edit = Callable[[dict[str, Any]], None]
QUICK = {"update_seconds": 0.5, "cold_start_seconds": 0.5, "model_load_seconds": 0.0, "metrics_window_seconds": 5.0}
"""The emulator's durations here: seconds where a workspace takes minutes (a short bake judges a short window)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def variant(stack: str, directory: Path, edit: Edit | None = None) -> Path:
    """The stack file of `stack`, changed by `edit` (a function of its parsed YAML), written into `directory`."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    if edit is not None:
        edit(data)
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.dump(data, Dumper=StackFileDumper, sort_keys=False), encoding="utf-8")
    return path


class StackFileDumper(yaml.SafeDumper):
    """Floats as a person writes them (0.000001, 1200.0): the stack file's rules refuse `1e-06`."""


def _float(dumper: yaml.SafeDumper, value: float) -> yaml.Node:
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.20f}".rstrip("0")
    if text.endswith("."):
        text += "0"
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


StackFileDumper.add_representer(float, _float)


def endpoints_of(data: dict[str, Any]) -> dict[str, Any]:
    endpoints: dict[str, Any] = data["config"]["databricks-serving:endpoints"]
    return endpoints


def short_bakes(seconds: float = 3.0, traffic: dict[str, int] | None = None) -> Edit:
    """Prod's rollout with bakes of `seconds` and probes fast enough to reach `min_requests` in them; with
    `traffic`, the risk classifier's declared split."""

    def edit(data: dict[str, Any]) -> None:
        endpoint = endpoints_of(data)["risk-classifier"]
        endpoint["rollout"]["bake_minutes"] = seconds / 60
        endpoint["rollout"]["health"].update(min_requests=3, probe_interval_seconds=0.2)
        if traffic is not None:
            endpoint["traffic"] = dict(traffic)

    return edit


class Deployment:
    """A started local workspace and what the tests ask of it."""

    def __init__(self, workspace: LocalWorkspace):
        self.workspace = workspace
        emulator = workspace.emulator
        assert emulator is not None, "the workspace is not started"
        self.emulator = emulator

    def edit(self, edit: Edit, directory: Path) -> None:
        """Change the deployed stack file (as a pull request would), keeping what the engine wrote into it."""
        source = variant(self.workspace.stack, directory, edit)
        stack_file_for(self.workspace.stack, self.workspace.url, source, self.workspace.project)

    def pulumi(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.workspace.pulumi(*args, capture=True, timeout=timeout)

    def up(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--yes", "--skip-preview", *args)

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str = "dapi-emulator-admin"
    ) -> requests.Response:
        """The workspace's REST API, as a workspace admin unless another token is given."""
        return requests.request(
            method, f"{self.workspace.url}{path}", json=body, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )

    def endpoint(self, name: str) -> dict[str, Any]:
        answer = self.api("GET", f"/api/2.0/serving-endpoints/{name}")
        assert answer.status_code == 200, answer.text
        endpoint: dict[str, Any] = answer.json()
        return endpoint

    def endpoint_names(self) -> list[str]:
        return sorted(e["name"] for e in self.api("GET", "/api/2.0/serving-endpoints").json().get("endpoints", []))

    def traffic(self, name: str) -> dict[str, int]:
        routes = self.endpoint(name)["config"]["traffic_config"]["routes"]
        return {route["served_model_name"]: route["traffic_percentage"] for route in routes}

    def wait_for_traffic(self, name: str, split: dict[str, int], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.traffic(name) != split:
            assert time.monotonic() < deadline, f"{name} never served {split}: {self.traffic(name)}"
            time.sleep(0.1)

    def counters(self) -> dict[str, Any]:
        answer = self.emulator.admin("GET", "counters")
        assert answer.status_code == 200, answer.text
        counters: dict[str, Any] = answer.json()
        return counters

    def outputs(self) -> dict[str, Any]:
        done = self.pulumi("stack", "output", "--json", "--show-secrets")
        assert done.returncode == 0, done.stderr
        loaded: dict[str, Any] = json.loads(done.stdout)
        return loaded

    def export(self) -> dict[str, Any]:
        done = self.pulumi("stack", "export")
        assert done.returncode == 0, done.stderr
        loaded: dict[str, Any] = json.loads(done.stdout)
        return loaded
