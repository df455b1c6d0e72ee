"""Offline review of a stack: `python -m review <stack>`.

Runs the real program under Pulumi's mock engine with `Pulumi.<stack>.yaml` (no CLI, credentials or
network) and prints the resources it would declare as a tree, with the fields a reviewer cares about.
Exit status 2 for an invalid stack file.
"""

from __future__ import annotations

import argparse
import sys

from components.config import StackConfigError
from review.engine import DeclaredResource, ProgramRun, run_program, stack_file, stacks
from review.summary import summarize


def render_tree(run: ProgramRun) -> str:
    """The declared resources as an indented tree: type, name, then each reviewable field."""
    # Registration order is asynchronous; sorting by name keeps the output stable run to run.
    ordered = sorted(run.resources, key=lambda resource: resource.name)
    by_parent: dict[str, list[DeclaredResource]] = {}
    for resource in ordered:
        by_parent.setdefault(resource.parent, []).append(resource)
    urns = {resource.urn for resource in run.resources}
    roots = [resource for resource in ordered if resource.parent not in urns]

    lines = [f"Stack {run.stack}: {len(run.resources)} resources"]

    def walk(resource: DeclaredResource, depth: int) -> None:
        indent = "    " * depth
        lines.append(f"{indent}{resource.type}  {resource.name}")
        for key, value in summarize(resource).items():
            lines.append(f"{indent}    {key}: {value}")
        for child in by_parent.get(resource.urn, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__.splitlines()[0])
    parser.add_argument("stack", choices=stacks(), help="the stack whose Pulumi.<stack>.yaml is reviewed")
    args = parser.parse_args(argv)
    try:
        run = run_program(args.stack)
    except StackConfigError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"# {stack_file(args.stack).name}")
    print(render_tree(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
