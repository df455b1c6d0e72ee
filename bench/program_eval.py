"""Program evaluation under the mock engine: our program against a bare one, at 100 and 1000 endpoints.

Both programs read the same generated stack and declare the same ModelServing + Permissions per
endpoint; ours adds validation, the ServingEndpoint components and everything else they declare. Runs
alternate (ours, bare, ours, ...) so that both see the same machine state; the median of each is compared.

    python -m bench program [--repeat 5] [--sizes 100 1000]

Our program tunes Python's garbage collector for its own run, as it does under `pulumi up`; each run
here starts from the interpreter's default collector settings, so the bare baseline keeps them.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path
from typing import Any

from review.engine import run_program

BARE_PROGRAM = Path(__file__).with_name("bare_program.py")


def generated_stack(endpoints: int) -> dict[str, Any]:
    """A valid stack document with `endpoints` endpoints, each a 90/10 split between two versions."""
    spec = {
        "served_models": [
            {"model": "main.risk.risk_classifier", "version": 3, "workload_size": "Small"},
            {"model": "main.risk.risk_classifier", "version": 4, "workload_size": "Small"},
        ],
        "traffic": {"risk_classifier-3": 90, "risk_classifier-4": 10},
        "access": {"query_service_principal": "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"},
        "tags": {"team": "bench"},
    }
    return {
        "config": {
            "databricks:host": "https://workspace.example.com",
            "databricks-serving:defaults": {"name_prefix": "bench-", "tags": {"environment": "bench"}},
            "databricks-serving:endpoints": {f"endpoint-{n:03d}": spec for n in range(endpoints)},
        }
    }


DEFAULT_GC_THRESHOLD = gc.get_threshold()


def _timed(document: dict[str, Any], program: Path | None) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    run = run_program("bench", document=document, program=program)
    elapsed = time.perf_counter() - started
    # Back to the interpreter's defaults: what one program changed must not help (or hurt) the next.
    gc.unfreeze()
    gc.set_threshold(*DEFAULT_GC_THRESHOLD)
    gc.enable()
    return elapsed, len(run.resources)


def measure(endpoints: int, repeat: int) -> dict[str, float]:
    """Median seconds of each program, and how many resources each declared."""
    document = generated_stack(endpoints)
    _timed(document, None), _timed(document, BARE_PROGRAM)  # warm imports and caches for both
    ours, bare = [], []
    for _ in range(repeat):
        ours.append(_timed(document, None))
        bare.append(_timed(document, BARE_PROGRAM))
    return {
        "ours": statistics.median(seconds for seconds, _ in ours),
        "bare": statistics.median(seconds for seconds, _ in bare),
        "ours_resources": ours[0][1],
        "bare_resources": bare[0][1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench program", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args(argv)
    print(
        f"{'endpoints':>9}  {'ours (s)':>9}  {'bare (s)':>9}  {'ratio':>6}  "
        f"{'resources ours/bare':>19}  {'ms/resource ours/bare':>21}"
    )
    for size in args.sizes:
        result = measure(size, args.repeat)
        ratio = result["ours"] / result["bare"]
        per_ours = 1000 * result["ours"] / result["ours_resources"]
        per_bare = 1000 * result["bare"] / result["bare_resources"]
        print(
            f"{size:>9}  {result['ours']:>9.3f}  {result['bare']:>9.3f}  {ratio:>5.2f}x  "
            f"{result['ours_resources']:>9}/{result['bare_resources']:<9}  {per_ours:>10.2f}/{per_bare:<10.2f}"
        )
    return 0
