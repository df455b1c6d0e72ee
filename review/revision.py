"""Another git revision's program, run with that revision's own stack file.

`--against <revision>` must show what the change does, so the base is the old program with the old stack
file, not today's code with yesterday's file. The revision is extracted from git into a temporary
directory and run by `review/capture.py` in a fresh interpreter (this one holds today's `components`).
The checkout's own review engine runs it when the revision has one; an older revision without
`review/engine.py` is run by today's engine.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.engine import PROJECT_DIR, DeclaredResource

CAPTURE_SCRIPT = Path(__file__).resolve().parent / "capture.py"
CAPTURE_TIMEOUT_SECONDS = 300


class RevisionError(Exception):
    """The revision cannot be reviewed: git does not know it, or its program does not run."""


class RevisionStackFileError(RevisionError):
    """The revision's stack file is invalid; the message is its validation message."""


@dataclass(frozen=True)
class RevisionRun:
    """What a revision's program declared for one stack."""

    revision: str
    """The revision as the user named it (`HEAD~1`, `origin/main`)."""
    commit: str
    """The commit it resolved to."""
    resources: list[DeclaredResource]
    """Declared resources, secret values replaced by `[secret]` (still marked secret)."""
    missing: str | None = None
    """What the revision lacks (`Pulumi.prod.yaml`) when it has no such stack: then nothing is declared."""


def _git(project_dir: Path, *args: str) -> bytes:
    try:
        completed = subprocess.run(["git", "-C", str(project_dir), *args], capture_output=True, check=False)
    except OSError as error:
        raise RevisionError(f"cannot run git: {error}") from None
    if completed.returncode != 0:
        raise RevisionError(completed.stderr.decode(errors="replace").strip() or f"git {' '.join(args)} failed")
    return completed.stdout


def resolve(revision: str, project_dir: Path = PROJECT_DIR) -> str:
    """The commit `revision` names; RevisionError if git does not know it."""
    try:
        return _git(project_dir, "rev-parse", "--verify", "--end-of-options", f"{revision}^{{commit}}").decode().strip()
    except RevisionError:
        raise RevisionError(f"`{revision}` is not a revision of this repository") from None


def extract(commit: str, destination: Path, project_dir: Path = PROJECT_DIR) -> None:
    """Write the project directory as it was at `commit` into `destination`."""
    top = Path(_git(project_dir, "rev-parse", "--show-toplevel").decode().strip())
    prefix = _git(project_dir, "rev-parse", "--show-prefix").decode().strip()
    # `<commit>:<prefix>` is the project's own tree, so a project in a subdirectory is archived at the root.
    archive = _git(top, "archive", "--format=tar", f"{commit}:{prefix}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")


def _declared(item: dict[str, Any]) -> DeclaredResource:
    """A resource captured by the revision's engine, as today's DeclaredResource (fields it lacks keep defaults)."""
    known = {field.name for field in dataclasses.fields(DeclaredResource)}
    # JSON gave lists where the dataclass holds tuples (dependencies, ...); inputs stay as declared.
    fields: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) and key != "inputs" else value
        for key, value in item.items()
        if key in known
    }
    return DeclaredResource(**fields)


class PendingRevision:
    """A revision's program started in its own process; `result()` waits for it.

    Started before the candidate is run in this process, so that the two run side by side (the base's
    imports alone take as long as the candidate's whole run).
    """

    def __init__(self, revision: str, stack: str, project_dir: Path = PROJECT_DIR):
        self.revision = revision
        self.commit = resolve(revision, project_dir)
        self._temporary = tempfile.TemporaryDirectory(prefix="review-")
        checkout = Path(self._temporary.name) / "checkout"
        checkout.mkdir()
        try:
            extract(self.commit, checkout, project_dir)
        except BaseException:
            self._temporary.cleanup()
            raise
        self._output = Path(self._temporary.name) / "declared.json"
        # The checkout's modules must win over anything a PYTHONPATH would put first.
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        command = [sys.executable, str(CAPTURE_SCRIPT), "--project-dir", str(checkout), "--stack", stack]
        self._process = subprocess.Popen(
            [*command, "--output", str(self._output)],
            cwd=checkout,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self) -> RevisionRun:
        """What the revision declared; RevisionStackFileError / RevisionError as `run_at_revision`."""
        revision, commit = self.revision, self.commit
        try:
            try:
                _, stderr = self._process.communicate(timeout=CAPTURE_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.communicate()
                raise RevisionError(
                    f"the program at {revision} did not finish in {CAPTURE_TIMEOUT_SECONDS} s"
                ) from None
            if self._process.returncode != 0 or not self._output.is_file():
                detail = "\n".join(stderr.strip().splitlines()[-20:])
                raise RevisionError(f"the program at {revision} ({commit[:12]}) failed:\n{detail}")
            result = json.loads(self._output.read_text())
        finally:
            self._temporary.cleanup()

        if "invalid_stack_file" in result:
            raise RevisionStackFileError(f"at {revision} ({commit[:12]}): {result['invalid_stack_file']}")
        if "missing" in result:
            return RevisionRun(revision, commit, [], missing=result["missing"])
        return RevisionRun(revision, commit, [_declared(item) for item in result["resources"]])

    def cancel(self) -> None:
        """Stop the revision's process (the candidate could not be reviewed) and remove its checkout."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()
        self._temporary.cleanup()


def run_at_revision(revision: str, stack: str, project_dir: Path = PROJECT_DIR) -> RevisionRun:
    """Run `revision`'s program for `stack` with `revision`'s own `Pulumi.<stack>.yaml`.

    Raises RevisionStackFileError when that stack file is invalid, RevisionError when the revision is
    unknown or its program crashes.
    """
    return PendingRevision(revision, stack, project_dir).result()
