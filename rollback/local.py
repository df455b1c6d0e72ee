"""The rollback against the local workspace emulator (`--local`), deployed by the real engine as `make up` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_workspace.workspace import DEPLOYER_TOKEN, LocalWorkspace, stack_file_for


class LocalEngine:
    """A started `LocalWorkspace` whose stack file comes from `source` (the file the rollback rewrites)."""

    def __init__(self, workspace: LocalWorkspace, source: Path, timeout: float = 1800.0, quiet: bool = False):
        """`quiet`: pulumi's output not shown (a benchmark's)."""
        self.workspace = workspace
        self.source = source
        self.timeout = timeout
        self.quiet = quiet

    def sync(self) -> None:
        """The project copy gets the rewritten file (with the emulator's host and the engine's salt)."""
        stack_file_for(self.workspace.stack, self.workspace.url, self.source, self.workspace.project)

    def pulumi(self, *args: str) -> int:
        return self.workspace.pulumi(*args, capture=self.quiet, timeout=self.timeout).returncode

    def endpoint(self, name: str) -> dict[str, Any] | None:
        from databricks.sdk.core import Config  # databricks-sdk: only when the workspace is read

        from serving.workspace import ServingClient

        client = ServingClient(Config(host=self.workspace.url, token=DEPLOYER_TOKEN))
        return client.get_endpoint(name)
