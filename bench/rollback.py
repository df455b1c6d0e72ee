"""Emergency rollback under the real engine (`make engine`): time to all traffic on the stable version.

`python -m rollback` as a user runs it (the stack file rewritten, `pulumi up` through the real CLI, the
databricks stand-in and the servingops plugin, then the live check and `pulumi preview --expect-no-changes`),
against the emulator, in three starting points, side by side in one run:

a. the stable version still served (a rollout at 90/10): the rollout resource moves the candidate's share
   down in one config update;
b. the stable version removed at promotion: it is added back from the stack file's git history and deployed
   again (re-provisioning);
c. the stable version kept at 0% with scale-to-zero after promotion, and gone cold: one config update, and the
   first requests meet its cold start (the readiness resource warms it before `pulumi up` ends).

Each is timed from the start of the rollback until the live endpoint serves all traffic on the stable
version (polled every 0.05 s), until the stable version has answered a request, and until the command has
ended (the preview included), each as a ratio to the emulator's configured provisioning time (its
`update_seconds`: every config update takes that long; it also charges a re-provisioning no more than that,
where a real workspace builds a container: see bench/README.md).

    python -m bench rollback [--update-seconds 5] [--cold-start-seconds 5]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from local_workspace.workspace import LocalWorkspace
from rollback.local import LocalEngine
from rollback.plan import plan_rollback
from rollback.run import EXIT_OK, apply
from tests.e2e.support import QUICK, Deployment, endpoints_of, free_port, short_bakes, variant

ENDPOINT = "prod-risk-classifier"
STABLE = "risk_classifier-3"
ROLLED_BACK = {STABLE: 100, "risk_classifier-4": 0}
CONFIG_UPDATE = "PUT /api/2.0/serving-endpoints/{name}/config"
EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}
POLL_SECONDS = 0.05
POLL_LIMIT_SECONDS = 3600.0
Edit = Callable[[dict[str, Any]], None]


def rolling_out(data: dict[str, Any]) -> None:
    """Prod's risk classifier alone, its rollout at 90/10 with short bakes."""
    short_bakes()(data)
    del endpoints_of(data)["fraud-scorer"]


def promoted(keep_stable_cold: bool) -> Edit:
    """Version 4 promoted: the rollout block gone; version 3 gone too, or kept at 0% with scale-to-zero."""

    def edit(data: dict[str, Any]) -> None:
        rolling_out(data)
        endpoint = endpoints_of(data)["risk-classifier"]
        del endpoint["rollout"]
        if keep_stable_cold:
            endpoint["served_models"][0]["scale_to_zero"] = True
            endpoint["traffic"] = {STABLE: 0, "risk_classifier-4": 100}
        else:
            endpoint["served_models"] = endpoint["served_models"][1:]
            del endpoint["traffic"]

    return edit


def git(directory: Path, *args: str) -> None:
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=directory, check=True, capture_output=True)


@contextmanager
def deployed(directory: Path, edits: list[Edit], settings: dict[str, Any]) -> Iterator[Deployment]:
    """A workspace with the stack file through `edits` (one git commit each), the last one deployed."""
    git(directory, "init", "--quiet")
    for edit in edits:
        variant("prod", directory, edit)
        git(directory, "add", "Pulumi.prod.yaml")
        git(directory, "commit", "--quiet", "-m", "a change")
    settings_file = directory / "emulator.yaml"
    settings_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    source = directory / "Pulumi.prod.yaml"
    local = LocalWorkspace(
        directory / "local", "prod", free_port(), stack_source=source, emulator_settings=settings_file
    )
    with local.started():
        deployment = Deployment(local)
        done = deployment.up()
        if done.returncode != 0:
            raise RuntimeError(f"pulumi up failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        yield deployment


class Watch:
    """From a thread: when the endpoint first serves all traffic on stable (no update running), then when a
    request sent through its traffic split at that moment is answered (a cold start included)."""

    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.started = time.perf_counter()
        self.on_stable: float | None = None
        self.answered: float | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.is_set() and time.perf_counter() - self.started < POLL_LIMIT_SECONDS:
            body = self.deployment.endpoint(ENDPOINT)
            routes = {
                r["served_model_name"]: r["traffic_percentage"] for r in body["config"]["traffic_config"]["routes"]
            }
            if routes == ROLLED_BACK and body["state"]["config_update"] == "NOT_UPDATING":
                self.on_stable = time.perf_counter() - self.started
                self._request()
                return
            time.sleep(POLL_SECONDS)

    def _request(self) -> None:
        url = f"{self.deployment.workspace.url}/serving-endpoints/{ENDPOINT}/invocations"
        headers = {"Authorization": "Bearer dapi-emulator-admin"}
        answer = requests.post(url, json=EXAMPLE, timeout=POLL_LIMIT_SECONDS, headers=headers)
        if answer.status_code == 200 and answer.headers.get("served-model-name") == STABLE:
            self.answered = time.perf_counter() - self.started

    def done(self) -> tuple[float | None, float | None]:
        self.thread.join(timeout=POLL_LIMIT_SECONDS)
        self.stop.set()
        return self.on_stable, self.answered


@dataclass
class Measured:
    case: str
    on_stable: float
    answered: float
    command: float
    updates: int


def measure(case: str, edits: list[Edit], settings: dict[str, Any], idle: float = 0.0) -> Measured:
    """`python -m rollback prod risk-classifier` on a workspace deployed from `edits`, timed."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-rollback-") as name,
        deployed(Path(name), edits, settings) as deployment,
    ):
        time.sleep(idle)  # a scaled-to-zero stable goes cold
        source = Path(name) / "Pulumi.prod.yaml"
        before = deployment.counters()["api_calls"].get(CONFIG_UPDATE, 0)
        watch = Watch(deployment)  # the clock starts with the command: planning (validation, git history) included
        plan = plan_rollback("prod", source, "risk-classifier")
        status = apply(
            plan, source, LocalEngine(deployment.workspace, source, quiet=True), say=lambda line: None
        ).status
        command = time.perf_counter() - watch.started
        on_stable, answered = watch.done()
        updates = deployment.counters()["api_calls"].get(CONFIG_UPDATE, 0) - before
    if status != EXIT_OK or on_stable is None or answered is None:
        raise RuntimeError(f"{case}: status {status}, all traffic on stable after {on_stable}, answered {answered}")
    return Measured(case, on_stable, answered, command, updates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench rollback", description=__doc__.split("\n\n")[0])
    parser.add_argument("--update-seconds", type=float, default=5.0, help="the emulator's provisioning time")
    parser.add_argument("--cold-start-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    idle = 2.0
    settings = {
        **QUICK,
        "update_seconds": args.update_seconds,
        "cold_start_seconds": args.cold_start_seconds,
        "model_load_seconds": 0.5,
        "scale_to_zero_idle_seconds": idle,
    }
    results = [
        measure("a. stable still served (rollout at 90/10)", [rolling_out], settings),
        measure("b. stable removed (re-provisioned)", [rolling_out, promoted(False)], settings),
        measure("c. stable kept at 0%, scaled to zero", [rolling_out, promoted(True)], settings, idle=idle * 2),
    ]
    unit = args.update_seconds
    print(
        f"Rollback to {STABLE} under the real engine (provisioning time: update_seconds {unit:g} s, "
        f"cold start {args.cold_start_seconds:g} s)"
    )
    print(f"{'case':44} {'on stable':>16} {'stable answers':>16} {'command':>16} {'updates':>7}  beyond one update")
    for item in results:
        cells = [f"{value:6.2f} s {value / unit:5.2f}x" for value in (item.on_stable, item.answered, item.command)]
        print(
            f"{item.case:44} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} {item.updates:7d}  "
            f"{item.on_stable - unit:6.2f} s"
        )
    return 0
