"""Under the real engine (`make engine`): the `pulumi` CLI, the databricks plugin and ours, against the emulator.

1. `pulumi preview` wall time of a new 100-endpoint stack: our program against `bench/bare_program.py` (the
   same ModelServing + Permissions per endpoint, declared by hand), the two alternating, each in a workspace
   of its own. The CLI process is timed whole: start-up, plugins, program, every Check and Diff.
2. `pulumi up` of 12 new endpoints against 1 (our program, readiness and warmup included, every endpoint
   in a fresh workspace): how well the plugin's waits overlap.
3. SIGINT to the `pulumi up` process during the 50% bake of a rollout 0 -> 50 -> 100%: seconds until all
   traffic is on the stable entity, the config updates that took, and seconds until the CLI has exited.

    python -m bench engine [--repeat 3] [--endpoints 100] [--update-seconds 2]
"""

from __future__ import annotations

import argparse
import copy
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench.program_eval import BARE_PROGRAM, generated_stack
from local_workspace.workspace import LocalWorkspace
from tests.e2e.support import QUICK, Deployment, StackFileDumper, free_port, short_bakes, variant

EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}


def stack_document(endpoints: int) -> dict[str, Any]:
    document = generated_stack(endpoints)
    for spec in document["config"]["databricks-serving:endpoints"].values():
        spec["readiness"] = {"warmup": {"input_example": EXAMPLE}}
    return document


@contextmanager
def workspace(
    directory: Path, document: dict[str, Any], settings: dict[str, Any], program: Path | None = None
) -> Iterator[Deployment]:
    source = directory / "Pulumi.bench.yaml"
    source.write_text(yaml.dump(copy.deepcopy(document), Dumper=StackFileDumper, sort_keys=False), encoding="utf-8")
    settings_file = directory / "emulator.yaml"
    settings_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    local = LocalWorkspace(
        directory / "local", "bench", free_port(), stack_source=source, emulator_settings=settings_file, program=program
    )
    with local.started():
        yield Deployment(local)


def timed(deployment: Deployment, *args: str) -> float:
    started = time.perf_counter()
    done = deployment.pulumi(*args, timeout=1800)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return elapsed


def preview_ratio(endpoints: int, repeat: int, settings: dict[str, Any]) -> None:
    document = stack_document(endpoints)
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for _ in range(repeat):
        for label, program in (("ours", None), ("bare", BARE_PROGRAM)):
            with (
                tempfile.TemporaryDirectory(prefix=f"bench-{label}-") as directory,
                workspace(Path(directory), document, settings, program) as deployment,
            ):
                times[label].append(timed(deployment, "preview"))
    ours, bare = statistics.median(times["ours"]), statistics.median(times["bare"])
    print(f"1. pulumi preview, new stack of {endpoints} endpoints (median of {repeat}, alternating)")
    print(
        f"   ours {ours:.2f} s   bare {bare:.2f} s   ratio {ours / bare:.2f}x   "
        f"(runs: ours {', '.join(f'{t:.2f}' for t in times['ours'])}; "
        f"bare {', '.join(f'{t:.2f}' for t in times['bare'])})",
        flush=True,
    )


def up_ratio(settings: dict[str, Any]) -> None:
    times = {}
    for count, parallel in ((1, None), (12, None), (12, 64)):
        extra = ("--parallel", str(parallel)) if parallel else ()
        with (
            tempfile.TemporaryDirectory(prefix=f"bench-up{count}-") as directory,
            workspace(Path(directory), stack_document(count), settings) as deployment,
        ):
            times[(count, parallel)] = timed(deployment, "up", "--yes", "--skip-preview", *extra)
    one = times[(1, None)]
    print(
        f"2. pulumi up of new endpoints, readiness and warmup included (update {settings['update_seconds']} s, "
        f"cold start {settings['cold_start_seconds']} s)"
    )
    print(
        f"   1 endpoint {one:.2f} s   12 endpoints {times[(12, None)]:.2f} s = {times[(12, None)] / one:.2f}x "
        f"(the engine's default --parallel, 4 x cores)   12 endpoints with --parallel 64 "
        f"{times[(12, 64)]:.2f} s = {times[(12, 64)] / one:.2f}x",
        flush=True,
    )


def sigint_during_bake(settings: dict[str, Any]) -> None:
    half = {"risk_classifier-3": 50, "risk_classifier-4": 50}
    stable = {"risk_classifier-3": 100, "risk_classifier-4": 0}

    def candidate_at(share: int, bake: float) -> Callable[[dict[str, Any]], None]:
        def edit(data: dict[str, Any]) -> None:
            short_bakes(bake, traffic={"risk_classifier-3": 100 - share, "risk_classifier-4": share})(data)
            endpoints = data["config"]["databricks-serving:endpoints"]
            endpoints["risk-classifier"]["rollout"]["steps"] = [50, 100]
            del endpoints["fraud-scorer"]

        return edit

    with tempfile.TemporaryDirectory(prefix="bench-sigint-") as directory:
        path = Path(directory)
        settings_file = path / "emulator.yaml"
        settings_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
        local = LocalWorkspace(
            path / "local",
            "prod",
            free_port(),
            emulator_settings=settings_file,
            stack_source=variant("prod", path, candidate_at(0, 3.0)),
        )
        with local.started():
            deployment = Deployment(local)
            timed(deployment, "up", "--yes", "--skip-preview")
            deployment.edit(candidate_at(50, 120.0), path)
            cli = local.popen("up", "--yes", "--skip-preview", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deployment.wait_for_traffic("prod-risk-classifier", half)
            before = deployment.counters()["api_calls"].get("PUT /api/2.0/serving-endpoints/{name}/config", 0)
            signalled = time.perf_counter()
            cli.send_signal(signal.SIGINT)
            deployment.wait_for_traffic("prod-risk-classifier", stable, timeout=60)
            on_stable = time.perf_counter() - signalled
            cli.wait(timeout=60)
            exited = time.perf_counter() - signalled
            updates = deployment.counters()["api_calls"].get("PUT /api/2.0/serving-endpoints/{name}/config", 0) - before
    print(f"3. SIGINT to `pulumi up` during the 50% bake (update {settings['update_seconds']} s)")
    print(
        f"   all traffic on stable {on_stable:.2f} s after the signal, {updates} config update(s); "
        f"the CLI exited after {exited:.2f} s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--update-seconds", type=float, default=2.0)
    parser.add_argument("--only", choices=["preview", "up", "sigint"])
    args = parser.parse_args(argv)
    settings = {**QUICK, "update_seconds": args.update_seconds, "cold_start_seconds": 3.0}
    if args.only in (None, "preview"):
        preview_ratio(args.endpoints, args.repeat, settings)
    if args.only in (None, "up"):
        up_ratio(settings)
    if args.only in (None, "sigint"):
        sigint_during_bake(settings)
    return 0
