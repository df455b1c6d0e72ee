"""The last good version of an endpoint, from the stack file's git history.

After a promotion the stack file no longer names the version that served before (it was removed from
`served_models`, with the `rollout` block), and neither does the Pulumi state (the rollout resource left with
its block). The stack file's history still does, in the form it was deployed in: the most recent committed
revision whose entry declares the entity is where the rollback takes it from, with its workload, scale-to-zero
and environment as written then. Without `--to`, the last good version is that revision's `rollout.stable`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.stack_file import UnreadableStackFileError, parse_stack_text
from rollback.stack_edit import StackEditError, endpoint_entry, served_names

MAX_REVISIONS = 200
"""How far back the history is read: enough for months of changes to one stack file, bounded."""


class HistoryError(Exception):
    """The history has no revision with the entity (or git cannot read it)."""


@dataclass(frozen=True)
class Restored:
    """A served entity as an earlier revision of the stack file declared it."""

    commit: str
    """The revision it comes from (abbreviated commit)."""
    name: str
    """Its served entity name."""
    entry: dict[str, Any]
    """Its `served_models[]` entry, as written then."""
    position: int
    """Its index in that revision's `served_models`."""


def _git(directory: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, check=False)
    except OSError as error:
        raise HistoryError(f"cannot run git: {error}") from None
    if done.returncode != 0:
        raise HistoryError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout


def revisions(stack_file: Path) -> list[tuple[str, str]]:
    """(abbreviated commit, text) of the committed revisions of `stack_file`, newest first, at most MAX_REVISIONS."""
    directory = stack_file.resolve().parent
    untracked = f"{stack_file.name} is not tracked by git: its history cannot name the last good version"
    try:
        relative = _git(directory, "ls-files", "--full-name", "--", stack_file.name).strip()
    except HistoryError as error:  # not a git work tree at all
        raise HistoryError(f"{untracked} ({error})") from None
    if not relative:
        raise HistoryError(untracked)
    commits = _git(directory, "log", f"-n{MAX_REVISIONS}", "--format=%h", "--", stack_file.name).split()
    return [(commit, _git(directory, "show", f"{commit}:{relative}")) for commit in commits]


def _entry_at(text: str, commit: str, key: str) -> Mapping[str, Any] | None:
    try:
        document = parse_stack_text(text, Path(f"{commit}:stack file")).document
        return endpoint_entry(document, key)  # type: ignore[no-any-return]
    except (UnreadableStackFileError, StackEditError):
        return None  # a revision without this endpoint, or unreadable then: an older one may have it


def last_declared(stack_file: Path, key: str, entity: str | None) -> Restored:
    """The newest revision's declaration of `entity` (None: of the newest revision's `rollout.stable`)."""
    for commit, text in revisions(stack_file):
        entry = _entry_at(text, commit, key)
        if entry is None:
            continue
        try:
            names = served_names(entry)
        except StackEditError:
            continue
        rollout = entry.get("rollout")
        wanted = entity
        if wanted is None and isinstance(rollout, Mapping):
            wanted = rollout.get("stable")
        if isinstance(wanted, str) and wanted in names:
            position = names.index(wanted)
            return Restored(commit, wanted, dict(entry["served_models"][position]), position)
    what = f"`{entity}`" if entity else "a `rollout` block (whose `stable` is the last good version)"
    raise HistoryError(
        f"no committed revision of {stack_file.name} (the last {MAX_REVISIONS}) declares {what} for endpoint `{key}`"
    )
