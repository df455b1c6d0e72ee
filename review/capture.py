"""Run one checkout's program for one stack under the mock engine, in a process of its own.

    python review/capture.py --project-dir <checkout> --stack <stack> --output <file.json>

Started by `review.revision` for `python -m review <stack> --against <revision>`: the reviewing process has
already imported today's `components`, so another revision's program can only run in a fresh interpreter.
The checkout goes first on sys.path, so its program imports its own `components`, and its own review
engine when it has one; a checkout from before `review/engine.py` existed is run by today's engine.

Writes `{"resources": [...]}` (inputs with every secret value replaced by `[secret]`, still marked secret),
`{"missing": "<what>"}` when the checkout has no such stack, or `{"invalid_stack_file": "<message>"}`.
A crash of the program is a traceback on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

TODAY = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "[secret]"


def load_engine(checkout: Path) -> ModuleType:
    """The checkout's own `review.engine`, else today's, loaded from its file."""
    if (checkout / "review" / "engine.py").is_file():
        import review.engine

        return review.engine
    spec = importlib.util.spec_from_file_location("_review_engine_today", TODAY / "review" / "engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def masked(value: Any) -> Any:
    """`value` with each secret's content replaced by the placeholder, the secret marker kept."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return rpc.wrap_rpc_secret(SECRET_PLACEHOLDER)
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def capture(checkout: Path, stack: str) -> dict[str, Any]:
    """What the checkout's program declares for `stack`, as JSON-ready data."""
    if not (checkout / "Pulumi.yaml").is_file():
        return {"missing": "Pulumi.yaml (no Pulumi program)"}
    if not (checkout / f"Pulumi.{stack}.yaml").is_file():
        return {"missing": f"Pulumi.{stack}.yaml"}
    engine = load_engine(checkout)
    run_program = engine.run_program
    try:
        if "project_dir" in inspect.signature(run_program).parameters:
            run = run_program(stack, project_dir=checkout)
        else:
            run = run_program(stack)  # an engine that always runs its own checkout
    except Exception as error:  # the checkout's own StackConfigError class, whatever its module
        if type(error).__name__ == "StackConfigError":
            return {"invalid_stack_file": str(error)}
        raise
    # Every field the engine's DeclaredResource has, whichever version of it ran; inputs with secrets masked.
    return {
        "resources": [
            {
                **{field.name: getattr(resource, field.name) for field in dataclasses.fields(resource)},
                "inputs": masked(resource.inputs),
            }
            for resource in run.resources
        ]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, required=True, help="the checkout to run")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--output", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args()
    checkout = args.project_dir.resolve()
    # Python put this script's directory first; the checkout takes its place so its modules win.
    sys.path[0] = str(checkout)
    result = capture(checkout, args.stack)
    args.output.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
