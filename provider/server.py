"""The `servingops` resource provider plugin: the gRPC service the Pulumi engine talks to.

How the engine drives it (../shared/notes/pulumi-engine.md, read from the engine's source):
- Check and Diff are called one at a time from the engine's single loop: here they are pure and answer
  at once (no request to the workspace, no thread), however many Creates are waiting.
- Create/Update run the resource's work (provider.implementations) on the plugin's own thread pool, sized for
  large stacks, so waiting never holds the gRPC event loop; with `preview=True` they send nothing and
  return unknown outputs, except a kind that `works_in_preview` (the preflight), which reads (GETs only).
- Invoke serves the plugin's functions (provider.functions: alias resolution), read-only.
- Cancel (Ctrl-C) stops every wait at its next pause; a rollout in flight then gets its last good split
  back in one config update, confirmed before Cancel returns (the engine allows 30 s). Cancel is idempotent.
- Errors reach the user as their message alone, no traceback; progress goes to the resource's own row
  through the engine's Log service.

Credentials come from the provider's configuration (an explicit provider resource with secret inputs) or,
where it has none, from databricks-sdk's unified authentication (DATABRICKS_* variables, profiles). They
live only in this process: never returned, logged or put in an error.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, plugin_pb2, provider_pb2, provider_pb2_grpc

from provider import wire
from provider.functions import FUNCTIONS, FunctionError
from provider.implementations import KINDS, ResourceKind, Work
from provider.schema import VERSION, schema_json
from serving.preflight import PreflightError
from serving.traffic_shift import RolloutError
from serving.verification import Cancelled, PollPolicy, ReadinessError
from serving.workspace import (
    CREDENTIAL_SETTINGS,
    MissingCredentialsError,
    ServingApiError,
    ServingClient,
    WorkspaceConfigError,
    sdk_config,
)

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
STOP_SECONDS = 10.0
"""How long Cancel waits for a stopped run's thread to come to rest (an HTTP call under way) first."""

T = TypeVar("T")
# A workspace that cannot be reached or authenticated to is bad input: its message names what to set.
EXPECTED_ERRORS = (ReadinessError, RolloutError, ServingApiError, PreflightError, FunctionError, WorkspaceConfigError)


class PluginError(Exception):
    """A failure whose message is for the user as it is."""


def policy_of(poll_seconds: float | None) -> PollPolicy:
    """The poll cadence: with the default 10 s exactly databricks-sdk's waiter (1 s, 2 s, ... 10 s)."""
    longest = float(poll_seconds or 10.0)
    return PollPolicy(
        first_delay=longest / 10,
        max_delay=longest,
        jitter=0.1,
        stale_config_grace=6 * longest,
        progress_every=1.5 * longest,
    )


class EngineLog:
    """Progress lines on a resource's row, through the engine's Log service. Never fails the work."""

    def __init__(self, address: str | None):
        self._stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address)) if address else None

    def info(self, urn: str, message: str) -> None:
        if self._stub is None:
            return
        try:
            self._stub.Log(
                engine_pb2.LogRequest(severity=engine_pb2.INFO, message=message, urn=urn, ephemeral=True), timeout=5
            )
        except grpc.RpcError:
            pass  # a progress line is not worth failing a deployment for

    def warning(self, urn: str, message: str) -> None:
        """A line that stays in the output (not ephemeral), as a warning."""
        self._lasting(engine_pb2.WARNING, urn, message)

    def error(self, urn: str, message: str) -> None:
        """An error diagnostic on a resource's row (it does not fail the resource by itself)."""
        self._lasting(engine_pb2.ERROR, urn, message)

    def _lasting(self, severity: int, urn: str, message: str) -> None:
        if self._stub is None:
            return
        try:
            self._stub.Log(engine_pb2.LogRequest(severity=severity, message=message, urn=urn), timeout=5)
        except grpc.RpcError:
            pass


@dataclass
class InFlight:
    """A Create/Update at work."""

    urn: str
    name: str
    work: Work
    future: asyncio.Future
    outcome: str = ""
    """Once cancelled: where things stand (for a rollout, where traffic is)."""
    settled: asyncio.Event = field(default_factory=asyncio.Event)


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _type(urn: str) -> str:
    return urn.split("::")[-2].rsplit("$", 1)[-1] if "::" in urn else ""


def sibling_urn(urn: str, type_token: str, name: str) -> str:
    """The URN of a resource with the same parent as `urn`'s, of another type and name."""
    head, qualified_type, _ = urn.rsplit("::", 2)
    parents = qualified_type.rsplit("$", 1)[0] + "$" if "$" in qualified_type else ""
    return f"{head}::{parents}{type_token}::{name}"


class ServingOpsProvider(provider_pb2_grpc.ResourceProviderServicer):
    """The plugin's gRPC servicer."""

    def __init__(self, engine_address: str | None = None):
        self.engine = EngineLog(engine_address)
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="servingops")
        self.stopping = threading.Event()
        self.settings: dict[str, Any] = {}
        self.policy = policy_of(None)
        self._client: ServingClient | None = None
        self._client_lock = threading.Lock()
        self.runs: dict[str, InFlight] = {}
        self._cancelling: asyncio.Task | None = None
        self._said_no_credentials = False

    # --- plumbing ------------------------------------------------------------------------------------

    async def _guard(self, context: grpc.aio.ServicerContext, call: Awaitable[T]) -> T:
        """Run one RPC; a failure reaches the engine as its message alone."""
        try:
            return await call
        except (PluginError, *EXPECTED_ERRORS) as error:
            message = str(error)
        except Exception as error:  # noqa: BLE001 - whatever fails, the user gets a message, not a traceback
            traceback.print_exc(file=sys.stderr)  # the engine keeps a plugin's stderr for `-v` logs only
            message = f"servingops: unexpected {type(error).__name__}: {error}"
        await context.abort(grpc.StatusCode.UNKNOWN, message)
        raise AssertionError("unreachable: abort raises")

    def client(self) -> ServingClient:
        """The workspace client, built on first use in a worker thread (OAuth discovery may do I/O)."""
        with self._client_lock:
            if self._client is None:
                values = self.settings
                self._client = ServingClient(sdk_config(lambda key: values.get(key)))
            return self._client

    def optional_client(self) -> ServingClient | None:
        """The workspace client, or None when unified authentication finds no credentials at all."""
        try:
            return self.client()
        except MissingCredentialsError:
            return None

    async def _client_for(self, urn: str, kind: ResourceKind) -> ServingClient | None:
        """The client for a kind's work; a kind that can do without is given None, and the user is told once."""
        loop = asyncio.get_running_loop()
        if kind.needs_credentials:
            return await loop.run_in_executor(self.pool, self.client)
        client = await loop.run_in_executor(self.pool, self.optional_client)
        if client is None and not self._said_no_credentials:
            self._said_no_credentials = True
            self.engine.warning(
                urn,
                "servingops: no workspace credentials (neither the provider's configuration "
                "nor DATABRICKS_* variables or a profile): preflight skipped; to check the "
                f"workspace, set {CREDENTIAL_SETTINGS}",
            )
        return client

    def _sleep(self, seconds: float) -> None:
        """The pause every wait uses: it ends at once, with `Cancelled`, when the plugin is cancelled."""
        if self.stopping.wait(seconds):
            raise Cancelled()

    def _kind(self, urn: str) -> ResourceKind:
        kind = KINDS.get(_type(urn))
        if kind is None:
            raise PluginError(f"servingops has no resource type {_type(urn)!r}; it has {', '.join(KINDS)}")
        return kind

    # --- provider configuration ----------------------------------------------------------------------

    async def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=VERSION)

    async def GetSchema(self, request, context):
        return provider_pb2.GetSchemaResponse(schema=schema_json())

    async def CheckConfig(self, request, context):
        async def check():
            news = wire.decode(request.news).plain
            failures = []
            host = news.get("host")
            if host not in (None, "", wire.UNKNOWN) and not str(host).startswith(("https://", "http://")):
                failures.append(
                    provider_pb2.CheckFailure(
                        property="host", reason=f"{host!r} is not a workspace URL (https://<workspace>)"
                    )
                )
            poll = news.get("pollSeconds")
            if poll not in (None, wire.UNKNOWN) and not (isinstance(poll, float) and poll > 0):
                failures.append(provider_pb2.CheckFailure(property="pollSeconds", reason="must be a positive number"))
            return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

        return await self._guard(context, check())

    async def DiffConfig(self, request, context):
        olds, news = wire.decode(request.olds).plain, wire.decode(request.news).plain
        changed = [
            key
            for key in ("host", "token", "clientId", "clientSecret", "pollSeconds")
            if olds.get(key) != news.get(key)
        ]
        # Nothing the plugin manages depends on how it reached the workspace: never a replacement.
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed,
        )

    async def Configure(self, request, context):
        settings = {
            key: value
            for key, value in wire.decode(request.args).plain.items()
            if value not in (None, "", wire.UNKNOWN)
        }
        # Older engines send the configuration as `variables` ("servingops:config:host") as well.
        for key, value in request.variables.items():
            settings.setdefault(key.rsplit(":", 1)[-1], value)
        self.settings = {f"databricks:{key}": value for key, value in settings.items() if key != "pollSeconds"}
        self.policy = policy_of(float(settings["pollSeconds"]) if "pollSeconds" in settings else None)
        with self._client_lock:
            self._client = None
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    # --- resources: pure calls -----------------------------------------------------------------------

    async def Check(self, request, context):
        async def check():
            kind = self._kind(request.urn)
            failures = [
                provider_pb2.CheckFailure(property=f.property, reason=f.reason)
                for f in kind.failures(wire.decode(request.news).plain)
            ]
            return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

        return await self._guard(context, check())

    async def Diff(self, request, context):
        async def diff():
            kind = self._kind(request.urn)
            changed = kind.changed(wire.decode(request.olds).plain, wire.decode(request.news).plain)
            return provider_pb2.DiffResponse(
                changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
                diffs=changed,
                detailedDiff={
                    key: provider_pb2.PropertyDiff(kind=provider_pb2.PropertyDiff.UPDATE, inputDiff=True)
                    for key in changed
                },
                hasDetailedDiff=True,
            )

        return await self._guard(context, diff())

    async def Delete(self, request, context):
        async def delete():
            kind = self._kind(request.urn)
            # Proof of serving and rollouts own nothing (the endpoint belongs to its ModelServing): nothing to
            # send. Notifications are the endpoint's: removing them clears them.
            if kind.deletes_in_workspace:
                loop = asyncio.get_running_loop()
                client = await loop.run_in_executor(self.pool, self.client)
                await loop.run_in_executor(self.pool, kind.delete, wire.decode(request.properties).plain, client)
            return empty_pb2.Empty()

        return await self._guard(context, delete())

    # --- resources: work -----------------------------------------------------------------------------

    async def Create(self, request, context):
        async def create():
            kind, values = self._kind(request.urn), wire.decode(request.properties)
            if request.preview:
                return provider_pb2.CreateResponse(
                    id="",
                    properties=wire.encode(await self._preview(request.urn, kind, values.plain), values.secret_keys),
                )
            outs = await self._work(request.urn, kind, values.plain)
            return provider_pb2.CreateResponse(
                id=kind.resource_id(values.plain), properties=wire.encode(outs, values.secret_keys)
            )

        return await self._guard(context, create())

    async def Update(self, request, context):
        async def update():
            kind, values = self._kind(request.urn), wire.decode(request.news)
            if request.preview:
                return provider_pb2.UpdateResponse(
                    properties=wire.encode(await self._preview(request.urn, kind, values.plain), values.secret_keys)
                )
            outs = await self._work(request.urn, kind, values.plain, recorded=wire.decode(request.olds).plain)
            return provider_pb2.UpdateResponse(properties=wire.encode(outs, values.secret_keys))

        return await self._guard(context, update())

    async def Invoke(self, request, context):
        async def invoke():
            function = FUNCTIONS.get(request.tok)
            if function is None:
                raise PluginError(f"servingops has no function {request.tok!r}; it has {', '.join(FUNCTIONS)}")
            args = wire.decode(request.args).plain
            loop = asyncio.get_running_loop()
            client = await loop.run_in_executor(self.pool, self.optional_client)
            result = await loop.run_in_executor(self.pool, function, args, client)
            return provider_pb2.InvokeResponse(**{"return": wire.encode(result)})

        return await self._guard(context, invoke())

    async def Read(self, request, context):
        async def read():
            kind, values = self._kind(request.urn), wire.decode(request.properties)
            loop = asyncio.get_running_loop()
            client = await self._client_for(request.urn, kind)
            outs = await loop.run_in_executor(self.pool, kind.read, values.plain, client)
            if outs is None:
                return provider_pb2.ReadResponse(id="")  # deleted out of band: gone from the state
            inputs = (
                request.inputs
                if request.inputs.fields
                else wire.encode(
                    {key: value for key, value in values.plain.items() if key in kind.watched}, values.secret_keys
                )
            )
            return provider_pb2.ReadResponse(
                id=request.id, properties=wire.encode(outs, values.secret_keys), inputs=inputs
            )

        return await self._guard(context, read())

    async def _preview(self, urn: str, kind: ResourceKind, props: dict[str, Any]) -> dict[str, Any]:
        """A preview's outputs: unknown where the work produces them, or a kind's read-only work, done now."""
        if not kind.works_in_preview:
            return kind.preview_outputs(props)
        client = await self._client_for(urn, kind)
        work = kind.preview_work(props, client, lambda line: self.engine.info(urn, line))
        if work is None:
            return kind.preview_outputs(props)
        return await asyncio.get_running_loop().run_in_executor(self.pool, work.run)

    async def _work(
        self, urn: str, kind: ResourceKind, props: dict[str, Any], recorded: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        name = _name(urn)
        if self.stopping.is_set():
            raise PluginError(f"{name}: not started, the deployment was cancelled")
        loop = asyncio.get_running_loop()
        client = await self._client_for(urn, kind)
        work = kind.work(
            props, client, self.policy, lambda line: self.engine.info(urn, line), self._sleep, recorded=recorded
        )
        run = InFlight(urn, name, work, loop.run_in_executor(self.pool, work.run))
        self.runs[urn] = run
        # The run stays registered until its thread is done, even when this call ends first: the engine's
        # connection closing (the CLI killed) cancels the call, not the work, and a stop must still find it.
        run.future.add_done_callback(lambda _: self.runs.pop(urn, None) if self.runs.get(urn) is run else None)
        try:
            outputs = await asyncio.shield(run.future)
        except Cancelled:
            if self._cancelling is not None:
                await asyncio.shield(self._cancelling)
            if not run.settled.is_set():  # registered after Cancel looked: settle it here
                await self._settle(run, time.monotonic() + CANCEL_SECONDS)
            raise PluginError(
                f"{name}: stopped by a cancellation (Ctrl-C); {run.outcome}. The next `pulumi up` "
                "starts again from what the endpoint serves then."
            ) from None
        if work.watch is not None:
            loop.run_in_executor(self.pool, self._watch, urn, work)
        return outputs

    def _watch(self, urn: str, work: Work) -> None:
        """A kind's watch, after its Create/Update returned: a failure goes on the row it names."""
        assert work.watch is not None
        target = sibling_urn(urn, *work.watch_reports_on) if work.watch_reports_on else urn
        try:
            work.watch()
        except Cancelled:
            pass  # the deployment ended (the engine's SIGINT) or was cancelled
        except EXPECTED_ERRORS as error:
            self.engine.error(target, str(error))
        except Exception as error:  # noqa: BLE001 - a watch never fails the plugin
            traceback.print_exc(file=sys.stderr)
            self.engine.warning(target, f"servingops: the deployment watch stopped: {type(error).__name__}: {error}")

    # --- cancellation --------------------------------------------------------------------------------

    async def Cancel(self, request, context):
        await self.stop(CANCEL_SECONDS)
        return empty_pb2.Empty()

    async def stop(self, budget: float) -> None:
        """Stop every run as Cancel does (a rollout's last good split back, confirmed), within `budget` seconds;
        the first stop's budget holds for a later one (Cancel, then the engine's SIGINT). Idempotent."""
        if self._cancelling is None:
            self._cancelling = asyncio.ensure_future(self._cancel(budget))
        try:
            await asyncio.wait_for(asyncio.shield(self._cancelling), timeout=budget + 1.0)
        except TimeoutError:
            pass  # a run's HTTP call outlived the budget; what is known is said in each run's outcome

    async def _cancel(self, budget: float) -> None:
        self.stopping.set()
        deadline = time.monotonic() + budget
        await asyncio.gather(*(self._settle(run, deadline) for run in list(self.runs.values())))

    async def _settle(self, run: InFlight, deadline: float) -> None:
        """Let a run's thread stop, then put back what it changed (a rollout's last good split)."""
        loop = asyncio.get_running_loop()
        # A stopped run sends no further config update (a cancellation point precedes each): after a short
        # wait for its HTTP call under way, the restore may start, and keeps most of the budget.
        rest = min(STOP_SECONDS, max(0.0, (deadline - time.monotonic()) / 4))
        try:
            await asyncio.wait_for(asyncio.shield(run.future), timeout=rest)
        except (TimeoutError, Cancelled):
            pass
        except Exception:  # noqa: BLE001 - the run failed on its own; its Create/Update reports it
            pass
        try:
            if run.work.restore is None:
                run.outcome = "nothing was changed by it"
            else:
                run.outcome = await loop.run_in_executor(self.pool, run.work.restore, deadline)
        except Exception as error:  # noqa: BLE001 - said in the Create/Update's message
            run.outcome = f"putting traffic back failed: {error}"
        finally:
            run.settled.set()
            # The engine may be gone (SIGINT at its end, or killed): the plugin's stderr keeps the outcome.
            try:
                print(f"servingops: {run.name} stopped: {run.outcome}", file=sys.stderr, flush=True)
            except OSError:
                pass  # nobody reads stderr any more


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
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, signalled.set)
    waits = {asyncio.ensure_future(signalled.wait()): SIGNAL_SECONDS}
    if engine_address:
        waits[asyncio.ensure_future(engine_is_gone(engine_address))] = CANCEL_SECONDS
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await provider.stop(min(waits[task] for task in done))
    await server.stop(grace=0.5)
