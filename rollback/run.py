"""Applying a rollback: the stack file written, `pulumi up` through the same plugin, then proof of no drift.

Proof is two checks: the live endpoint serves the planned split (all traffic on the rollback's entity, no
update running), and `pulumi preview --expect-no-changes` finds nothing to do, so the stack file, the state
and the workspace agree.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rollback.plan import RollbackPlan
from serving.model import ServingEndpoint

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_FAILED = 3
EXIT_DRIFT = 4
EXIT_UP_FAILED = 5
EXIT_MEANINGS = {
    EXIT_INVALID: "invalid input (stack, endpoint, --to, the stack file, its history); nothing was changed",
    EXIT_FAILED: "the rollback command itself failed (a bug)",
    EXIT_DRIFT: "deployed, but the live endpoint or pulumi preview disagrees with the stack file",
    EXIT_UP_FAILED: "pulumi up failed; the stack file is rewritten (git diff shows it)",
}
"""What each failing status means, as `make rollback` prints it (the Makefile's ROLLBACK_STATUSES)."""
UP_TIMEOUT_SECONDS = 7200.0
"""A re-provisioning waits for the deployment (up to 120 min for the largest GPU types); bounded."""


class Engine(Protocol):
    """Where the stack is deployed: a real workspace with the user's `pulumi`, or the local emulator."""

    def sync(self) -> None:
        """After the stack file changed: hand it to the engine (the local workspace copies it)."""

    def pulumi(self, *args: str) -> int:
        """Run `pulumi ARGS` for the stack, its output shown; the exit status."""

    def endpoint(self, name: str) -> dict[str, Any] | None:
        """The live endpoint (GET), None when it does not exist."""


def diff(plan: RollbackPlan, path: Path) -> str:
    """The change to the stack file, as `git diff` shows it."""
    lines = difflib.unified_diff(
        plan.before.splitlines(keepends=True), plan.after.splitlines(keepends=True), f"a/{path.name}", f"b/{path.name}"
    )
    return "".join(lines)


@dataclass
class Outcome:
    status: int
    message: str


def verify(plan: RollbackPlan, engine: Engine) -> Outcome:
    """The live split is the planned one and a preview finds nothing to change."""
    wanted = plan.routes
    live = engine.endpoint(plan.endpoint)
    if live is None:
        return Outcome(EXIT_DRIFT, f"endpoint {plan.endpoint} does not exist in the workspace")
    endpoint = ServingEndpoint.from_dict(live)
    split, updating = endpoint.traffic, endpoint.state.updating
    if split != wanted or updating:
        state = "an update is still running" if updating else "no update is running"
        return Outcome(EXIT_DRIFT, f"endpoint {plan.endpoint} serves {split}, not {wanted} ({state})")
    if engine.pulumi("preview", "--expect-no-changes") != 0:
        return Outcome(EXIT_DRIFT, "`pulumi preview --expect-no-changes` found changes after the rollback")
    return Outcome(EXIT_OK, f"endpoint {plan.endpoint} serves {split}; `pulumi preview` shows no change")


def apply(
    plan: RollbackPlan, path: Path, engine: Engine, say: Callable[[str], None] = lambda line: print(line, flush=True)
) -> Outcome:
    """Write the rewritten stack file, `pulumi up`, verify."""
    path.write_text(plan.after, encoding="utf-8")
    engine.sync()
    say(f"rollback: pulumi up for stack {plan.stack}")
    if engine.pulumi("up", "--yes", "--skip-preview") != 0:
        return Outcome(EXIT_UP_FAILED, f"`pulumi up` failed; {path} holds the rollback (git diff shows it)")
    return verify(plan, engine)


class CliEngine:
    """The user's `pulumi` on the PATH, in the project directory, against the workspace the stack names."""

    def __init__(self, project_dir: Path, stack: str, client: Any):
        self.project_dir = project_dir
        self.stack = stack
        self.client = client

    def sync(self) -> None:
        """The stack file is the project's own: nothing to hand over."""

    def pulumi(self, *args: str) -> int:
        try:
            done = subprocess.run(
                ["pulumi", *args, "--stack", self.stack],
                cwd=self.project_dir,
                check=False,
                timeout=UP_TIMEOUT_SECONDS,
            )
        except FileNotFoundError:
            print("rollback: no `pulumi` on the PATH (install the Pulumi CLI)", file=sys.stderr)
            return 127
        return done.returncode

    def endpoint(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.client.get_endpoint(name)
        return found
