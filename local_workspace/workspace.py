"""The pieces of a local deployment: the emulator process, the project copy, the engine's environment."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from emulator.testing import wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
PROJECT = LOCAL / "project"
PROGRAM = ("Pulumi.yaml", "__main__.py", "components", "provider", "serving", "policy", "venv")
"""What the project copy links to: the program, the plugin, the policy pack and the virtualenv."""
DEFAULT_PORT = 18080
"""The emulator's port for `make up`: part of the stack's `databricks:host`, so the same from run to run."""
DEPLOYER_TOKEN = "dapi-emulator-deployer"
"""The emulator's well-known token of the deploying service principal (emulator/settings.py); local only."""
HOST_KEY = re.compile(r"^(\s*databricks:host:).*$", re.MULTILINE)
SALT_KEY = re.compile(r"^encryptionsalt:.*$", re.MULTILINE)


class LocalWorkspaceError(Exception):
    """A step of the local deployment could not run; the message says which and why."""


@dataclass(frozen=True)
class Emulator:
    url: str
    admin_token: str
    process: subprocess.Popen[str]

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        """The emulator's admin API (`/_emulator/...`): faults, changes made by hand."""
        return requests.request(
            method,
            f"{self.url}/_emulator/{path}",
            json=body,
            timeout=10,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )


@contextmanager
def running_emulator(state_dir: Path, port: int = DEFAULT_PORT, extra_args: Sequence[str] = ()) -> Iterator[Emulator]:
    """The emulator as a child process, its endpoints kept in `state_dir/workspace.json`; stopped (and saved)
    with SIGTERM at the end."""
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir / "emulator.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--state-file",
            str(state_dir / "workspace.json"),
            *extra_args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        if " listening on http" not in first:
            raise LocalWorkspaceError(f"the emulator did not start (see {state_dir / 'emulator.log'}): {first!r}")
        url = first.strip().rsplit(" ", 1)[-1]
        lines = [process.stdout.readline() if process.stdout else "" for _ in range(2)]
        token = next((line.split("Bearer ", 1)[1].split("'")[0] for line in lines if "Bearer " in line), "")
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()  # a full pipe would block it
        try:
            wait_until_healthy(url, lambda: process.poll() is None)
        except (RuntimeError, TimeoutError) as error:
            raise LocalWorkspaceError(f"{error} (see {state_dir / 'emulator.log'})") from None
        yield Emulator(url, token, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _drain(stream: object) -> None:
    for _ in stream or ():  # type: ignore[attr-defined]
        pass


def stack_file_for(stack: str, host: str, source: Path | None = None, project: Path = PROJECT) -> Path:
    """The project copy's `Pulumi.<stack>.yaml`: the stack file with `databricks:host` set to the emulator,
    keeping the `encryptionsalt` the engine wrote into the copy before (the stack's secrets need it)."""
    source = source or ROOT / f"Pulumi.{stack}.yaml"
    if not source.is_file():
        raise LocalWorkspaceError(
            f"{source}: no such stack file (stacks here: "
            f"{', '.join(sorted(p.name for p in ROOT.glob('Pulumi.*.yaml')))})"
        )
    text = source.read_text(encoding="utf-8")
    if HOST_KEY.search(text):
        text = HOST_KEY.sub(lambda m: f"{m.group(1)} {host}", text, count=1)
    else:
        text = re.sub(r"^config:\s*$", f"config:\n  databricks:host: {host}", text, count=1, flags=re.MULTILINE)
    project.mkdir(parents=True, exist_ok=True)
    target = project / f"Pulumi.{stack}.yaml"
    if target.exists():
        salt = SALT_KEY.search(target.read_text(encoding="utf-8"))
        if salt and not SALT_KEY.search(text):
            text = text.rstrip("\n") + "\n" + salt.group(0) + "\n"
    target.write_text(text, encoding="utf-8")
    return target


def prepare_project(project: Path = PROJECT, program: Path | None = None) -> Path:
    """Links to the program beside the stack file copies (made by `stack_file_for`); `program`: another
    `__main__.py` to run instead of this project's (a benchmark's baseline)."""
    project.mkdir(parents=True, exist_ok=True)
    for name in PROGRAM:
        target = program if name == "__main__.py" and program is not None else ROOT / name
        link = project / name
        if link.is_symlink() or link.exists():
            if link.is_symlink() and link.resolve() == target.resolve():
                continue
            link.unlink()
        link.symlink_to(target)
    return project


def engine_environment(local: Path, emulator_url: str) -> dict[str, str]:
    """The environment the real CLI runs in (tools/engine.sh env, its Pulumi home and state under `local`)
    with the emulator's credentials, and the databricks plugin installed there."""
    # The databricks stand-in runs from the virtualenv of this tool (venv-dev/ under make), not from venv/.
    env = {"SERVINGOPS_DEV_VENV": sys.prefix, **os.environ, "SERVINGOPS_LOCAL": str(local)}
    for command in ("plugins", "env"):
        done = subprocess.run(
            [str(ROOT / "tools" / "engine.sh"), command], capture_output=True, text=True, env=env, check=False
        )
        if done.returncode != 0:
            raise LocalWorkspaceError(f"tools/engine.sh {command} failed: {done.stderr.strip() or done.stdout.strip()}")
    for line in done.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0] if value else ""
    # The stack file's own credentials (databricks:token as a secret) would win; these fill what it leaves.
    env.update({"DATABRICKS_HOST": emulator_url, "DATABRICKS_TOKEN": DEPLOYER_TOKEN})
    for name in (
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_CONFIG_PROFILE",
        "DATABRICKS_AUTH_TYPE",
    ):
        env.pop(name, None)
    return env


class LocalWorkspace:
    """One stack of this checkout, deployed by the real engine into an emulator whose state lives in `local`."""

    def __init__(
        self,
        local: Path,
        stack: str,
        port: int = DEFAULT_PORT,
        stack_source: Path | None = None,
        emulator_settings: Path | None = None,
        program: Path | None = None,
    ):
        self.local = local
        self.program = program
        self.emulator_args = ["--settings", str(emulator_settings)] if emulator_settings else []
        self.stack = stack
        self.port = port
        self.stack_source = stack_source
        self.project = local / "project"
        self.emulator: Emulator | None = None
        self.env: dict[str, str] = {}
        self.stack_file = self.project / f"Pulumi.{stack}.yaml"

    @property
    def url(self) -> str:
        assert self.emulator is not None, "the workspace is not started"
        return self.emulator.url

    @contextmanager
    def started(self) -> Iterator[LocalWorkspace]:
        with running_emulator(self.local / "emulator", self.port, self.emulator_args) as emulator:
            self.emulator = emulator
            prepare_project(self.project, self.program)
            self.stack_file = stack_file_for(self.stack, emulator.url, self.stack_source, self.project)
            self.env = engine_environment(self.local, emulator.url)
            selected = self.pulumi("stack", "select", self.stack, "--create", capture=True)
            if selected.returncode != 0:
                raise LocalWorkspaceError(f"pulumi stack select {self.stack} failed: {selected.stderr.strip()}")
            # `stack init` rewrites the file with go-yaml (comments gone, `1200.0` written `1200`): the
            # stack file's own text again, with the salt the engine just wrote into the copy.
            self.stack_file = stack_file_for(self.stack, emulator.url, self.stack_source, self.project)
            try:
                yield self
            finally:
                self.emulator = None

    def pulumi(
        self, *args: str, capture: bool = False, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `pulumi ARGS` on the project copy (standard streams shown unless `capture`)."""
        return subprocess.run(
            ["pulumi", "--non-interactive", *args],
            cwd=self.project,
            env=self.env,
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str, **kwargs: object) -> subprocess.Popen[str]:
        """Start `pulumi ARGS` on the project copy without waiting (for signals mid-run)."""
        # kwargs pass through untyped (stdout=..., start_new_session=...): no Popen overload takes **object.
        command = ["pulumi", "--non-interactive", *args]
        process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            command, cwd=self.project, env=self.env, text=True, **kwargs
        )
        return process
