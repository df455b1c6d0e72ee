"""The `servingops` resource provider plugin: the gRPC service the Pulumi engine talks to.

How the engine drives it (../shared/notes/pulumi-engine.md, read from the engine's source):
- Check and Diff are called one at a time from the engine's single loop: here they are pure and answer
  at once (no request to the workspace, no thread), however many Creates are waiting.
- Create/Update run the resource's work (provider.implementations) on the plugin's own thread pool, sized for
  large stacks, so waiting never holds the gRPC event loop; with `preview=True` they send nothing and
  return unknown outputs, except a kind that `works_in_preview` (the preflight), which reads (GETs only).
- Invoke serves the plugin's functions (provider.functions: alias resolution), read-only.
- Cancel (Ctrl-C) stops every wait at its next pause; a rollout in flight then gets its last good split
  back in one config update, confirmed before Cancel returns (the engine allows 30 s). Cancel is idempotent
  (provider.runs).
- Errors reach the user as their message alone, no traceback; progress goes to the resource's own row
  through the engine's Log service (provider.engine_log).

This module is the gRPC plumbing only: each request is decoded once into a typed `provider.requests`
value, and the resource's kind (provider.implementations) does the rest. Credentials: provider.configuration.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import traceback
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias, TypeVar

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from provider import requests as typed
from provider import wire
from provider.configuration import Workspace, changed_settings, config_failures
from provider.engine_log import EngineLog
from provider.functions import FUNCTIONS
from provider.handlers import ResourceHandlers
from provider.requests import Failure, InputError
from provider.runs import EXPECTED_ERRORS, PluginError, Runs
from provider.schema import VERSION, schema_json

WORKERS = 256
"""Threads for waiting: one per resource at work (plus warmup's own), far more than `--parallel` runs."""
CANCEL_SECONDS = 25.0
"""What Cancel may take to put traffic back: the engine waits 30 s for it."""
SIGNAL_SECONDS = 4.0
"""What a stop by SIGINT/SIGTERM may take: the engine sends SIGINT to every plugin at the end of a deployment
(and when it is interrupted) and SIGKILLs it 5 s later (`pkg/resource/plugin/plugin.go`)."""
ENGINE_CHECK_SECONDS = 2.0
"""How often the plugin asks whether the engine is still there: a CLI killed with SIGKILL sends nothing, and
a rollout left running would move traffic with nobody watching."""

T = TypeVar("T")
USER_ERRORS: tuple[type[Exception], ...] = (PluginError, InputError, *EXPECTED_ERRORS)
"""Failures whose message is for the user as it is: no traceback."""
Context: TypeAlias = grpc.aio.ServicerContext


def _check_failures(failures: list[Failure]) -> list[provider_pb2.CheckFailure]:
    return [provider_pb2.CheckFailure(property=f.property, reason=f.reason) for f in failures]


def _diff(changed: list[str], detailed: bool) -> provider_pb2.DiffResponse:
    some = provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE
    if not detailed:
        return provider_pb2.DiffResponse(changes=some, diffs=changed)
    return provider_pb2.DiffResponse(
        changes=some,
        diffs=changed,
        detailedDiff={
            key: provider_pb2.PropertyDiff(kind=provider_pb2.PropertyDiff.UPDATE, inputDiff=True) for key in changed
        },
        hasDetailedDiff=True,
    )


class ServingOpsProvider(provider_pb2_grpc.ResourceProviderServicer):
    """The plugin's gRPC servicer: each call decoded once (provider.requests), handed to its handler
    (provider.handlers), answered as the engine expects."""

    def __init__(self, engine_address: str | None = None):
        self.engine = EngineLog(engine_address)
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="servingops")
        self.workspace = Workspace(self.pool, self.engine)
        self.runs = Runs(self.pool, self.engine, CANCEL_SECONDS)
        self.resources = ResourceHandlers(self.pool, self.engine, self.workspace, self.runs)

    async def _guard(self, context: Context, call: Awaitable[T]) -> T:
        """Run one RPC; a failure reaches the engine as its message alone."""
        try:
            return await call
        except USER_ERRORS as error:
            message = str(error)
        except Exception as error:  # noqa: BLE001 - whatever fails, the user gets a message, not a traceback
            traceback.print_exc(file=sys.stderr)  # the engine keeps a plugin's stderr for `-v` logs only
            message = f"servingops: unexpected {type(error).__name__}: {error}"
        await context.abort(grpc.StatusCode.UNKNOWN, message)
        raise AssertionError("unreachable: abort raises")

    # --- provider configuration ----------------------------------------------------------------------

    async def GetPluginInfo(self, request: empty_pb2.Empty, context: Context) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=VERSION)

    async def GetSchema(
        self, request: provider_pb2.GetSchemaRequest, context: Context
    ) -> provider_pb2.GetSchemaResponse:
        return provider_pb2.GetSchemaResponse(schema=schema_json())

    async def CheckConfig(self, request: provider_pb2.CheckRequest, context: Context) -> provider_pb2.CheckResponse:
        async def check() -> provider_pb2.CheckResponse:
            failures = _check_failures(config_failures(wire.decode(request.news).plain))
            return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

        return await self._guard(context, check())

    async def DiffConfig(self, request: provider_pb2.DiffRequest, context: Context) -> provider_pb2.DiffResponse:
        # Nothing the plugin manages depends on how it reached the workspace: never a replacement.
        call = typed.diff_request(request)
        return _diff(changed_settings(call.olds.plain, call.news.plain), detailed=False)

    async def Configure(
        self, request: provider_pb2.ConfigureRequest, context: Context
    ) -> provider_pb2.ConfigureResponse:
        self.workspace.configure(wire.decode(request.args).plain, dict(request.variables))
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    # --- resources -----------------------------------------------------------------------------------

    async def Check(self, request: provider_pb2.CheckRequest, context: Context) -> provider_pb2.CheckResponse:
        async def check() -> provider_pb2.CheckResponse:
            failures = _check_failures(self.resources.failures(typed.check_request(request)))
            return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

        return await self._guard(context, check())

    async def Diff(self, request: provider_pb2.DiffRequest, context: Context) -> provider_pb2.DiffResponse:
        async def diff() -> provider_pb2.DiffResponse:
            return _diff(self.resources.changed(typed.diff_request(request)), detailed=True)

        return await self._guard(context, diff())

    async def Delete(self, request: provider_pb2.DeleteRequest, context: Context) -> empty_pb2.Empty:
        async def delete() -> empty_pb2.Empty:
            await self.resources.delete(typed.recorded_request(request))
            return empty_pb2.Empty()

        return await self._guard(context, delete())

    async def Create(self, request: provider_pb2.CreateRequest, context: Context) -> provider_pb2.CreateResponse:
        async def create() -> provider_pb2.CreateResponse:
            call = typed.create_request(request)
            secret = call.news.secret_keys
            if call.preview:
                outs = await self.resources.preview(call)
                return provider_pb2.CreateResponse(id="", properties=wire.encode(outs, secret))
            outs = await self.resources.work(call)
            resource_id = self.resources.kind(call).resource_id(call.news.plain)
            return provider_pb2.CreateResponse(id=resource_id, properties=wire.encode(outs, secret))

        return await self._guard(context, create())

    async def Update(self, request: provider_pb2.UpdateRequest, context: Context) -> provider_pb2.UpdateResponse:
        async def update() -> provider_pb2.UpdateResponse:
            call = typed.update_request(request)
            if call.preview:
                outs = await self.resources.preview(call)
            else:
                outs = await self.resources.work(call, recorded=call.olds.plain)
            return provider_pb2.UpdateResponse(properties=wire.encode(outs, call.news.secret_keys))

        return await self._guard(context, update())

    async def Read(self, request: provider_pb2.ReadRequest, context: Context) -> provider_pb2.ReadResponse:
        async def read() -> provider_pb2.ReadResponse:
            call = typed.recorded_request(request)
            outs = await self.resources.read(call)
            if outs is None:
                return provider_pb2.ReadResponse(id="")  # deleted out of band: gone from the state
            secret = call.news.secret_keys
            inputs = (
                request.inputs if request.inputs.fields else wire.encode(self.resources.recorded_inputs(call), secret)
            )
            return provider_pb2.ReadResponse(id=call.resource_id, properties=wire.encode(outs, secret), inputs=inputs)

        return await self._guard(context, read())

    async def Invoke(self, request: provider_pb2.InvokeRequest, context: Context) -> provider_pb2.InvokeResponse:
        async def invoke() -> provider_pb2.InvokeResponse:
            function = FUNCTIONS.get(request.tok)
            if function is None:
                raise PluginError(f"servingops has no function {request.tok!r}; it has {', '.join(FUNCTIONS)}")
            client = await self.resources.in_pool(self.workspace.optional_client)
            result = await self.resources.in_pool(function, wire.decode(request.args).plain, client)
            return provider_pb2.InvokeResponse(**{"return": wire.encode(result)})

        return await self._guard(context, invoke())

    # --- cancellation --------------------------------------------------------------------------------

    async def Cancel(self, request: empty_pb2.Empty, context: Context) -> empty_pb2.Empty:
        await self.runs.stop(CANCEL_SECONDS)
        return empty_pb2.Empty()

    async def stop(self, budget: float) -> None:
        """Stop every run as Cancel does, within `budget` seconds (provider.runs.Runs.stop). Idempotent."""
        await self.runs.stop(budget)


async def engine_is_gone(address: str, checks: int = 2) -> None:
    """Returns once the engine has stopped answering `checks` health checks in a row, as the engine's own
    plugins watch it (`rpcutil.Healthcheck`: an answer of any kind, UNIMPLEMENTED included, means alive)."""
    async with grpc.aio.insecure_channel(address) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=lambda _: b"", response_deserializer=lambda data: data
        )
        missed = 0
        while missed < checks:
            await asyncio.sleep(ENGINE_CHECK_SECONDS)
            try:
                await check(None, timeout=ENGINE_CHECK_SECONDS)
                missed = 0
            except grpc.aio.AioRpcError as error:
                # A busy engine answers late; one that is gone refuses the connection.
                missed = 0 if error.code() != grpc.StatusCode.UNAVAILABLE else missed + 1


async def serve(engine_address: str | None, port: int = 0) -> None:
    """Start the plugin on loopback, print its port (what the engine reads), serve until stopped.

    Stopped by SIGINT or SIGTERM (the engine's end of every deployment, or its Ctrl-C) or by the engine going
    away (the CLI killed): either way every run stops as Cancel stops it, then the plugin exits."""
    provider = ServingOpsProvider(engine_address)
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(provider, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    sys.stdout.write(f"{bound}\n")
    sys.stdout.flush()
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, signalled.set)
    waits: dict[asyncio.Future[Any], float] = {asyncio.ensure_future(signalled.wait()): SIGNAL_SECONDS}
    if engine_address:
        waits[asyncio.ensure_future(engine_is_gone(engine_address))] = CANCEL_SECONDS
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await provider.stop(min(waits[task] for task in done))
    await server.stop(grace=0.5)
