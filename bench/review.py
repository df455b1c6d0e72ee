"""Wall time of the offline review, as a pull request runs it: `python -m review prod` and `--against`.

Side by side with a baseline revision (default `main`), cloned into a temporary directory and run by the
same interpreter; runs alternate (ours, baseline, ours, ...) so that both see the same machine state, and
the median of each is compared. Each run is a fresh process: its imports are part of what is measured.

    python -m bench review [--repeat 5] [--baseline main] [--stack prod] [--against HEAD]

Goals (issue 12): the offline review of prod under 2 s, with `--against` under 4 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
GOALS = {"review": 2.0, "review --against": 4.0}
RUN_TIMEOUT_SECONDS = 120


def _timed(checkout: Path, arguments: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "review", *arguments],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):  # 1: a policy verdict, still a whole review
        raise SystemExit(f"review {' '.join(arguments)} in {checkout} failed:\n{completed.stderr[-2000:]}")
    return elapsed


def _clone(revision: str, destination: Path) -> str:
    """A clone of this repository at `revision` (shared objects, offline); returns the commit."""
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(PROJECT_DIR), str(destination)], check=True)
    commit = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(["git", "-C", str(destination), "checkout", "-q", "--detach", commit], check=True)
    return commit


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench review", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command per side (at most 20)")
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--against", default="HEAD", help="revision for the `--against` runs")
    args = parser.parse_args(argv)
    repeat = max(1, min(args.repeat, 20))

    commands = {"review": [args.stack], "review --against": [args.stack, "--against", args.against]}
    with tempfile.TemporaryDirectory(prefix="bench-review-") as temporary:
        baseline = Path(temporary) / "baseline"
        commit = _clone(args.baseline, baseline)
        sides = {"ours": PROJECT_DIR, f"baseline {args.baseline} ({commit[:12]})": baseline}
        times: dict[tuple[str, str], list[float]] = {}
        for name, arguments in commands.items():
            for _ in range(repeat):
                for side, checkout in sides.items():
                    times.setdefault((name, side), []).append(_timed(checkout, arguments))

    baseline_side = list(sides)[1]
    print(f"{'command':<18} {'ours (s)':>9} {'baseline (s)':>13} {'ratio':>7} {'goal (s)':>9}  met")
    met_all = True
    for name in commands:
        ours = statistics.median(times[(name, "ours")])
        base = statistics.median(times[(name, baseline_side)])
        met = ours < GOALS[name]
        met_all &= met
        verdict = "yes" if met else "NO"
        print(f"{name:<18} {ours:>9.2f} {base:>13.2f} {ours / base:>6.2f}x {GOALS[name]:>9.1f}  {verdict}")
    print(f"baseline: {baseline_side}; medians of {repeat} runs each, alternating")
    return 0 if met_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
