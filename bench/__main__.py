"""`python -m bench <name> [options]`: run one benchmark (see bench/README.md)."""

import importlib
import sys

BENCHMARKS = {
    "program": "bench.program_eval",
    "readiness": "bench.readiness",
    "rollout": "bench.rollout",
    "rollback": "bench.rollback",
    "review": "bench.review",
    "engine": "bench.real_engine",
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        sys.exit(2)
    sys.exit(importlib.import_module(BENCHMARKS[sys.argv[1]]).main(sys.argv[2:]))
