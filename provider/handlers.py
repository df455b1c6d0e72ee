"""What the plugin does for each resource call, apart from the gRPC plumbing (provider.server): find the
resource's kind, give it the workspace client it needs, run its work on the plugin's thread pool.

Every call arrives here as a typed `provider.requests.ResourceRequest`, never as protobuf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from provider.configuration import Workspace
from provider.engine_log import EngineLog
from provider.implementations import KINDS, ResourceKind
from provider.requests import Failure, PropertyMap, ResourceRequest
from provider.runs import PluginError, Runs

T = TypeVar("T")


class ResourceHandlers:
    """The resource calls: Check and Diff pure, Create/Update/Read/Delete through the workspace."""

    def __init__(self, pool: ThreadPoolExecutor, engine: EngineLog, workspace: Workspace, runs: Runs):
        self.pool, self.engine, self.workspace, self.runs = pool, engine, workspace, runs

    def kind(self, call: ResourceRequest) -> ResourceKind:
        kind = KINDS.get(call.type_token)
        if kind is None:
            raise PluginError(f"servingops has no resource type {call.type_token!r}; it has {', '.join(KINDS)}")
        return kind

    async def in_pool(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the plugin's thread pool: blocking work never holds the gRPC event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, function, *args)

    def failures(self, call: ResourceRequest) -> list[Failure]:
        return self.kind(call).failures(call.news.plain)

    def changed(self, call: ResourceRequest) -> list[str]:
        return self.kind(call).changed(call.olds.plain, call.news.plain)

    async def delete(self, call: ResourceRequest) -> None:
        kind = self.kind(call)
        # Proof of serving and rollouts own nothing (the endpoint belongs to its ModelServing): nothing to
        # send. Notifications are the endpoint's: removing them clears them.
        if kind.deletes_in_workspace:
            client = await self.in_pool(self.workspace.client)
            await self.in_pool(kind.delete, call.news.plain, client)

    async def read(self, call: ResourceRequest) -> dict[str, Any] | None:
        """Outputs after a refresh, or None when the endpoint is gone."""
        kind = self.kind(call)
        client = await self.workspace.client_for(call.urn, kind.needs_credentials)
        return await self.in_pool(kind.read, call.news.plain, client)

    def recorded_inputs(self, call: ResourceRequest) -> dict[str, Any]:
        """The inputs a Read without any reports: the watched ones among the state's outputs."""
        watched = self.kind(call).watched
        return {key: value for key, value in call.news.plain.items() if key in watched}

    async def preview(self, call: ResourceRequest) -> dict[str, Any]:
        """A preview's outputs: unknown where the work produces them, or a kind's read-only work, done now."""
        kind, props = self.kind(call), call.news.plain
        if not kind.works_in_preview:
            return kind.preview_outputs(props)
        client = await self.workspace.client_for(call.urn, kind.needs_credentials)
        work = kind.preview_work(props, client, self._log(call))
        if work is None:
            return kind.preview_outputs(props)
        return await self.in_pool(work.run)

    async def work(self, call: ResourceRequest, recorded: PropertyMap | None = None) -> dict[str, Any]:
        """A Create's (`recorded` None) or an Update's work, registered with the runs Cancel stops."""
        if self.runs.stopping.is_set():
            raise PluginError(f"{call.name}: not started, the deployment was cancelled")
        kind = self.kind(call)
        client = await self.workspace.client_for(call.urn, kind.needs_credentials)
        work = kind.work(
            call.news.plain, client, self.workspace.policy, self._log(call), self.runs.sleep, recorded=recorded
        )
        return await self.runs.run(call.urn, call.name, work)

    def _log(self, call: ResourceRequest) -> Callable[[str], None]:
        """Progress on the resource's own row."""
        return lambda line: self.engine.info(call.urn, line)
