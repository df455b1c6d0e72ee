"""`python -m local_workspace up|preview|refresh|destroy|pulumi --stack STACK [ARGS...]`

up        `pulumi up --yes`, then the stack outputs and the live drift report (`review STACK --live`)
preview   `pulumi preview --diff`
refresh   `pulumi refresh --yes`
destroy   `pulumi destroy --yes`
pulumi    any pulumi command, as given after `--`, with the emulator running
(for every command, arguments after `--` are passed on to pulumi)

Exit status: the pulumi command's; after `up`, 4 when the live report finds drift; 2 when the local
workspace cannot be set up (the message says why).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from local_workspace.workspace import DEFAULT_PORT, LOCAL, ROOT, LocalWorkspace, LocalWorkspaceError

COMMANDS = {
    "up": ["up", "--yes"],
    "preview": ["preview", "--diff"],
    "refresh": ["refresh", "--yes"],
    "destroy": ["destroy", "--yes"],
    "pulumi": [],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_workspace",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--stack", default="dev", help="the stack whose Pulumi.<stack>.yaml is deployed")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="the emulator's port: the stack's databricks:host, so keep it from run to run",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` goes to pulumi as it is.
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    options = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        return run(options.command, options.stack, extra, options.port)
    except LocalWorkspaceError as error:
        print(f"local workspace: {error}", file=sys.stderr)
        return 2


def run(command: str, stack: str, extra: list[str], port: int = DEFAULT_PORT) -> int:
    with LocalWorkspace(LOCAL, stack, port).started() as workspace:
        print(
            f"local workspace: {workspace.url} (stack {stack}, state {workspace.env['PULUMI_BACKEND_URL']})", flush=True
        )
        status = workspace.pulumi(*COMMANDS[command], *extra).returncode
        if command != "up" or status != 0:
            return status
        print("\nStack outputs:", flush=True)
        workspace.pulumi("stack", "output", "--json")
        print("\nLive drift report:", flush=True)
        return subprocess.run(
            [sys.executable, "-m", "review", stack, "--live", "--stack-file", str(workspace.stack_file)],
            cwd=ROOT,
            env=workspace.env,
            check=False,
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
