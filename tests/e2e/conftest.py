"""End to end under the real engine: the `pulumi` CLI built by `make engine`, the databricks plugin and the
servingops plugin, against the workspace emulator. Each test deploys into a workspace of its own (its own
emulator, Pulumi home, state backend and project copy under the test's tmp_path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_workspace.workspace import LocalWorkspace
from tests.e2e.support import QUICK, Deployment, Edit, free_port, variant


@pytest.fixture
def deploy(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """`deploy(stack, edit=None, settings=None)`: a local workspace for that stack (its file changed by `edit`,
    the emulator given `settings`: EmulatorSettings fields), started."""
    started: list[Any] = []

    def start(stack: str, edit: Edit | None = None, settings: dict[str, Any] | None = None) -> Deployment:
        source = variant(stack, tmp_path, edit)
        settings_file = tmp_path / "emulator-settings.yaml"
        settings_file.write_text(yaml.safe_dump({**QUICK, **(settings or {})}), encoding="utf-8")
        workspace = LocalWorkspace(
            tmp_path / "local", stack, free_port(), stack_source=source, emulator_settings=settings_file
        )
        context = workspace.started()
        context.__enter__()
        started.append(context)
        return Deployment(workspace)

    yield start
    for context in reversed(started):
        context.__exit__(None, None, None)
