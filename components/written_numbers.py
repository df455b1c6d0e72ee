"""Numbers as the stack file writes them: `1200.0` stays a float between the Pulumi CLI and the program.

The CLI decodes a stack file with go-yaml (`1200.0` -> float64 1200) and hands a structured value to the
program as JSON made by Go's encoding/json, which writes a whole float64 as `1200`: the program reads an
int where the file says a float (seen under the real engine: a warmup example's `amount: 1200.0` reached
the workspace as `1200`, which an MLflow `double` column refuses). The file's own text still says which
numbers are floats; the program takes that from it, and only that: where the engine's value is a whole
int and the file's value at the same key path is the same number written as a float. Every other value
(secrets, values set outside the file, anything that differs) stays the engine's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.stack_file import UnreadableStackFileError, read_stack_file


def with_written_number_types(engine: Any, written: Any) -> Any:
    """`engine`, with each int that `written` (the file's value at the same place) writes as that float."""
    if isinstance(engine, bool) or isinstance(written, bool):
        return engine
    if isinstance(engine, int) and isinstance(written, float) and written == engine:
        return written
    if isinstance(engine, dict) and isinstance(written, Mapping):
        return {key: with_written_number_types(value, written.get(key)) for key, value in engine.items()}
    if isinstance(engine, list) and isinstance(written, list) and len(engine) == len(written):
        return [with_written_number_types(value, other) for value, other in zip(engine, written, strict=True)]
    return engine


def written_config(stack_file: Path | None, project: str) -> dict[str, Any]:
    """The project's config values as the stack file writes them (key without the `project:` namespace);
    {} when there is no readable file (its problems are reported where the file is checked)."""
    if stack_file is None:
        return {}
    try:
        config = read_stack_file(stack_file).document.get("config")
    except UnreadableStackFileError:
        return {}
    prefix = f"{project}:"
    return (
        {
            key[len(prefix) :]: value
            for key, value in (config or {}).items()
            if isinstance(key, str) and key.startswith(prefix)
        }
        if isinstance(config, dict)
        else {}
    )
