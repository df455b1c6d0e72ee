"""Which entity a rollback puts traffic on, and the stack file that says so, checked before anything changes.

The last good version is, in this order: `--to` (a served entity the stack file declares, or one an earlier
committed revision declared); the `rollout` block's `stable`; without a block, the `stable` of the newest
committed revision that had one (rollback.history). An entity the stack file no longer declares is added
back as that revision declared it. The rewritten file passes the same validation as `pulumi up` before it
is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import (
    CREDENTIAL_KEYS,
    PROJECT,
    StackConfig,
    StackConfigError,
    parse_stack_config,
    stack_file_problems,
)
from components.stack_file import UnreadableStackFileError, parse_stack_text
from rollback.history import HistoryError, Restored, last_declared
from rollback.stack_edit import StackEditError, endpoint_entry, rewrite_for_rollback, served_names


class RollbackInputError(Exception):
    """The rollback cannot be planned as asked; nothing was changed (exit status 2)."""


@dataclass(frozen=True)
class RollbackPlan:
    """What one rollback does to the stack file and where it puts the traffic."""

    stack: str
    key: str
    """The endpoint's key in the stack file."""
    endpoint: str
    """The endpoint's name in the workspace (with the stack's prefix)."""
    target: str
    """The served entity that gets all traffic."""
    why: str
    """How the target was chosen, in words."""
    before: str
    after: str
    """The stack file's text before and after the rewrite."""
    restored: Restored | None = None
    """The entity added back to `served_models`, when it was no longer declared."""

    @property
    def routes(self) -> dict[str, int]:
        """The split the endpoint serves once rolled back."""
        return dict(validated(self.stack, self.after).endpoints[self.key].routes)


def _values(text: str, name: str) -> tuple[dict[str, Any], dict[str, bool], list[str]]:
    """The project's values, whether each credential key present is in plain text, the file's own problems."""
    try:
        stack_file = parse_stack_text(text, Path(name))
    except UnreadableStackFileError as error:
        raise RollbackInputError(str(error)) from None
    config = stack_file.document.get("config") or {}
    prefix = f"{PROJECT}:"
    values = {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
    # A `secure:` value is ciphertext; anything else under a credential key would be shown by the diff.
    plaintext = {key: not isinstance(config[key], dict) for key in CREDENTIAL_KEYS if key in config}
    return values, plaintext, stack_file_problems(stack_file)


def validated(stack: str, text: str, name: str = "the stack file") -> StackConfig:
    """The stack config of `text`, validated as `pulumi up` validates it; RollbackInputError with every problem."""
    values, plaintext, problems = _values(text, name)
    try:
        return parse_stack_config(stack, values, plaintext, stack_file_problems=problems)
    except StackConfigError as error:
        listed = "\n".join(f"  - {problem}" for problem in error.problems)
        raise RollbackInputError(f"{name} has configuration problems:\n{listed}") from None


def _endpoint_key(config: StackConfig, endpoint: str) -> str:
    """The stack file key of `endpoint`, given as a key or as the endpoint's workspace name."""
    if endpoint in config.endpoints:
        return endpoint
    for key in config.endpoints:
        if config.endpoint_name(key) == endpoint:
            return key
    known = ", ".join(f"{key} ({config.endpoint_name(key)})" for key in config.endpoints)
    raise RollbackInputError(f"the stack has no endpoint `{endpoint}` (endpoints: {known})")


def _choose(stack_file: Path, key: str, entry: Mapping[str, Any], to: str | None) -> tuple[str, str, Restored | None]:
    """(target, why, the entity to add back or None)."""
    declared = served_names(entry)
    rollout = entry.get("rollout")
    if to is not None and to in declared:
        return to, "named by --to", None
    if to is None and isinstance(rollout, Mapping):
        return str(rollout["stable"]), "the rollout's stable entity", None
    try:
        restored = last_declared(stack_file, key, to)
    except HistoryError as error:
        if to is not None:
            raise RollbackInputError(
                f"`{to}` is not a served entity of `{key}` (served: {', '.join(declared)}), and {error}"
            ) from None
        raise RollbackInputError(
            f"`{key}` has no `rollout` block to name its stable entity, and {error}: name the entity with --to"
        ) from None
    why = "named by --to" if to is not None else f"the rollout's stable entity at {restored.commit}"
    if restored.name in declared:
        return restored.name, why, None
    return restored.name, f"{why}, no longer served: added back as {restored.commit} declared it", restored


def plan_rollback(stack: str, stack_file: Path, endpoint: str, to: str | None = None) -> RollbackPlan:
    """The rollback of `endpoint` in `stack_file`, checked; RollbackInputError when it cannot be made."""
    try:
        before = stack_file.read_text(encoding="utf-8")
    except OSError as error:
        raise RollbackInputError(f"cannot read the stack file {stack_file}: {error.strerror}") from None
    config = validated(stack, before, str(stack_file))
    key = _endpoint_key(config, endpoint)
    try:
        entry = endpoint_entry(parse_stack_text(before, stack_file).document, key)
        target, why, restored = _choose(stack_file, key, entry, to)
        after = rewrite_for_rollback(
            before,
            key,
            target,
            restored.entry if restored else None,
            restored.position if restored else 0,
        )
    except StackEditError as error:
        raise RollbackInputError(f"{stack_file}: {error}") from None
    validated(stack, after, f"{stack_file} as the rollback would write it")
    return RollbackPlan(stack, key, config.endpoint_name(key), target, why, before, after, restored)
