"""`python -m rollback STACK ENDPOINT [--to ENTITY] [--local] [--dry-run] [--stack-file PATH]`

Puts all of ENDPOINT's traffic back on its last good version through the same plugin as every deployment:
rewrites Pulumi.<STACK>.yaml (comments kept: traffic 100% on the entity; the rollout block, if any, so that
the share moves down in one config update, no gate), shows the change, runs `pulumi up`, then checks the
live endpoint (all traffic on the entity) and that `pulumi preview --expect-no-changes` passes.

The last good version: --to, else the rollout's `stable`, else the `stable` of the newest committed revision
of the stack file with a `rollout` block. An entity no longer declared is added back as the newest committed
revision declaring it had it (re-provisioning).

Exit status:
  0  rolled back: all traffic on the entity, and a preview shows no change
  2  invalid input (stack, endpoint, --to, the stack file, its history); nothing was changed
  3  the rollback command itself failed (a bug)
  4  deployed, but the live endpoint or `pulumi preview` disagrees with the stack file
  5  `pulumi up` failed; the stack file is rewritten (git diff shows it, git checkout undoes it)
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from local_workspace.workspace import DEFAULT_PORT, LOCAL, ROOT, LocalWorkspace, LocalWorkspaceError
from review.live import LiveReadError
from rollback.local import LocalEngine
from rollback.plan import RollbackInputError, plan_rollback
from rollback.run import EXIT_FAILED, EXIT_INVALID, CliEngine, Outcome, apply, diff


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rollback",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("stack", help="the stack, whose Pulumi.<stack>.yaml is rewritten")
    parser.add_argument("endpoint", help="the endpoint's key in the stack file (or its workspace name)")
    parser.add_argument("--to", metavar="ENTITY", help="the served entity to put all traffic on")
    parser.add_argument("--stack-file", type=Path, metavar="PATH", help="default: Pulumi.<stack>.yaml here")
    parser.add_argument("--dry-run", action="store_true", help="show the change to the stack file, change nothing")
    parser.add_argument(
        "--local", action="store_true", help="deploy into the local workspace emulator, as `make up` does"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the emulator's port with --local")
    return parser


def run(args: argparse.Namespace) -> Outcome:
    path = args.stack_file or ROOT / f"Pulumi.{args.stack}.yaml"
    plan = plan_rollback(args.stack, path, args.endpoint, args.to)
    print(f"rollback: {plan.endpoint}: all traffic to {plan.target} ({plan.why})", flush=True)
    print(diff(plan, path) or f"{path.name}: already declares it; deploying to make the workspace agree", flush=True)
    if args.dry_run:
        return Outcome(0, "dry run: nothing was changed")
    if args.local:
        with LocalWorkspace(LOCAL, args.stack, args.port, stack_source=path).started() as workspace:
            return apply(plan, path, LocalEngine(workspace, path))
    from review.live import live_client

    client = live_client(stack_host(plan.before))
    return apply(plan, path, CliEngine(path.resolve().parent, args.stack, client))


def stack_host(text: str) -> str | None:
    """The stack file's `databricks:host`, for the live check when no DATABRICKS_HOST names one."""
    import yaml

    document = yaml.safe_load(text) or {}
    host = (document.get("config") or {}).get("databricks:host")
    return host if isinstance(host, str) else None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        outcome = run(args)
    except RollbackInputError as error:
        print(f"rollback: {error}", file=sys.stderr)
        return EXIT_INVALID
    except LocalWorkspaceError as error:
        print(f"rollback: local workspace: {error}", file=sys.stderr)
        return EXIT_INVALID
    except LiveReadError as error:  # no workspace to check afterwards: refused before the file is written
        print(f"rollback: {error}; nothing was changed", file=sys.stderr)
        return EXIT_INVALID
    except Exception:  # noqa: BLE001 - a bug: its traceback, and a status of its own
        traceback.print_exc()
        return EXIT_FAILED
    stream = sys.stdout if outcome.status == 0 else sys.stderr
    print(f"rollback: {outcome.message}", file=stream)
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
