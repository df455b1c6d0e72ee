"""Rollout on the emulator (a separate process), against the time the configuration asks for.

1. Wall time of a rollout 0% -> 10% -> 50% -> 100% against the sum of its configured bake times.
   Goal: overhead at most 10%. The overhead is split into the workspace's own config-update time
   (the emulator's `--update-seconds` per step) and the rest (polling, parity, probes).
2. A candidate failing 50% of its requests: time from the tripped gate until all traffic is back on
   the stable entity, and the config updates that took. Goal: one config update.
3. Ctrl-C during the 50% bake of a rollout 0 -> 50 -> 100% run by the servingops plugin: time from the
   Cancel RPC until it returns with all traffic on the stable entity, and the config updates that took.
   Goal: one config update, at most the workspace's update time + 2 s.

    python -m bench rollout [--bake 10] [--update-seconds 0.5]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

from databricks.sdk.core import Config

from emulator.testing import EmulatorHandle, emulator_process
from serving.traffic_shift import Rollout, RolloutError, RolloutPlan
from serving.workspace import ServingClient
from tests.engine_driver import ROLLOUT, Plugin, Step, urn
from tests.support import DEPLOYER_TOKEN, create_endpoint, entity

EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}
CONFIG_UPDATE = "PUT /api/2.0/serving-endpoints/{name}/config"


def _plan(name: str, bake: float) -> RolloutPlan:
    return RolloutPlan(
        endpoint=name,
        served_entities=(entity(3), entity(4)),
        target={"risk_classifier-3": 0, "risk_classifier-4": 100},
        stable="risk_classifier-3",
        candidate="risk_classifier-4",
        steps=(10, 50, 100),
        bake_seconds=bake,
        examples=(EXAMPLE,),
        max_error_rate=0.01,
        max_p95_latency_ms=500,
        min_requests=10,
        probe_interval_seconds=0.5,
        update_timeout_seconds=120,
    )


def _endpoint(client: ServingClient, name: str) -> dict[str, Any]:
    endpoint = client.get_endpoint(name)
    assert endpoint is not None, f"{name} does not exist"
    return endpoint


def _ready_endpoint(workspace: EmulatorHandle, client: ServingClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    create_endpoint(workspace, name, {3: 100, 4: 0})
    while _endpoint(client, name)["state"]["ready"] != "READY":
        time.sleep(0.1)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench rollout", description=__doc__.splitlines()[0])
    parser.add_argument("--bake", type=float, default=10.0, help="bake seconds per step")
    parser.add_argument("--update-seconds", type=float, default=0.5, help="the workspace's config update time")
    args = parser.parse_args(argv)
    with emulator_process(update_seconds=args.update_seconds, model_load_seconds=0.1) as workspace:
        client = ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN)))

        name = _ready_endpoint(workspace, client, "rollout")
        plan = _plan(name, args.bake)
        started = time.monotonic()
        report = Rollout(client, plan).run()
        wall = time.monotonic() - started
        baked = args.bake * len(report.steps)
        updates = args.update_seconds * len(report.steps)
        print(f"1. Rollout 0 -> {' -> '.join(str(step.share) for step in report.steps)}%")
        print(
            f"   wall {wall:.2f} s   configured bake {baked:.2f} s   overhead {wall / baked - 1:.1%} "
            f"(of which the workspace's config updates {updates:.2f} s = {updates / baked:.1%}, "
            f"ours {(wall - baked - updates) / baked:.1%})"
        )

        name = _ready_endpoint(workspace, client, "trip")
        workspace.set_error_rate(name, 0.5, served_entity="risk_classifier-4")
        lines: list[tuple[float, str]] = []
        before = workspace.counters()["api_calls"].get(CONFIG_UPDATE, 0)
        rollout = Rollout(client, _plan(name, args.bake), log=lambda line: lines.append((time.monotonic(), line)))
        try:
            rollout.run()
        except RolloutError as error:
            ended = time.monotonic()
            tripped = next(at for at, line in lines if "health gate failed" in line)
            updates_after_trip = workspace.counters()["api_calls"].get(CONFIG_UPDATE, 0) - before - 1
            print("\n2. Failing candidate (50% errors) at the 10% step")
            print(
                f"   gate tripped after {error.report['steps'][0]['seconds']:.2f} s of baking; all traffic back on "
                f"the stable entity {ended - tripped:.2f} s later, in {updates_after_trip} config update(s)"
            )

        ctrl_c(workspace, client, args.bake, args.update_seconds)
    return 0


def _rollout_props(name: str, endpoint_id: str, bake: float) -> dict[str, Any]:
    plan = _plan(name, bake)
    return {
        "endpoint_name": name,
        "endpoint_id": endpoint_id,
        "served_entities": list(plan.served_entities),
        "target": dict(plan.target),
        "stable": plan.stable,
        "candidate": plan.candidate,
        "steps": [50, 100],
        "bake_seconds": bake,
        "examples_json": [json.dumps(EXAMPLE)],
        "tolerance": 1e-6,
        "health": {
            "max_error_rate": 0.01,
            "max_p95_latency_ms": 500,
            "min_requests": 10,
            "probe_interval_seconds": 0.5,
        },
        "update_timeout_seconds": 120,
        "route_optimized": False,
        "plan": [],
    }


def ctrl_c(workspace: EmulatorHandle, client: ServingClient, bake: float, update_seconds: float) -> None:
    name = _ready_endpoint(workspace, client, "ctrlc")
    with Plugin() as plugin:
        plugin.configure({"host": workspace.url, "token": DEPLOYER_TOKEN, "pollSeconds": 0.5}, secret_keys={"token"})
        steps = [
            Step(urn(ROLLOUT, f"{name}-rollout"), _rollout_props(name, _endpoint(client, name)["id"], max(bake, 10)))
        ]
        engine = threading.Thread(target=plugin.deploy, args=(steps,))
        engine.start()
        plugin.engine.wait_for(f"{name}: rollout: 50% to risk_classifier-4", timeout=120)
        while _endpoint(client, name)["state"]["config_update"] != "NOT_UPDATING":
            time.sleep(0.05)
        time.sleep(1.0)  # well into the bake
        before = workspace.counters()["api_calls"].get(CONFIG_UPDATE, 0)
        seconds = plugin.cancel()
        engine.join()
        updates = workspace.counters()["api_calls"].get(CONFIG_UPDATE, 0) - before
    routes = _endpoint(client, name)["config"]["traffic_config"]["routes"]
    split = {route["served_entity_name"]: route["traffic_percentage"] for route in routes}
    print("\n3. Ctrl-C during the 50% bake (servingops plugin, Cancel RPC)")
    print(
        f"   Cancel returned after {seconds:.2f} s (config update time {update_seconds:.2f} s + "
        f"{seconds - update_seconds:.2f} s) with {split}, in {updates} config update(s)"
    )
