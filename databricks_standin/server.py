"""The stand-in's gRPC service: the calls the engine makes of `pulumi-resource-databricks`.

What the bridge does that matters to the engine, kept here (pulumi-terraform-bridge `pkg/tfbridge/provider.go`):
- Cancel is a no-op for SDKv2 resources: a Create or Update in its wait goes on after Ctrl-C;
- Create/Update with `preview` send nothing and return the inputs with computed outputs unknown;
- the engine's `timeout` (customTimeouts) replaces the resource's default timeout;
- errors reach the user as the provider's message.
Credentials: `databricks_standin/client.py`.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from databricks_standin import resources, shape
from databricks_standin.client import ProviderClient
from databricks_standin.kinds import INVOKE_LABELS, INVOKES, KINDS, Kind, Props
from provider import wire

ENGINE_CHECK_SECONDS = 5.0
VERSION = "1.118.0"
"""The pulumi-databricks version this stands in for (requirements.txt)."""


def _type(urn: str) -> str:
    return urn.split("::")[-2].rsplit("$", 1)[-1]


class StandinError(Exception):
    pass


class DatabricksStandin(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self) -> None:
        self._api = ProviderClient()

    # --- plumbing ----------------------------------------------------------------------------------------

    def _kind(self, urn: str) -> Kind:
        kind = KINDS.get(_type(urn))
        if kind is None:
            raise StandinError(
                f"the databricks stand-in has no resource type {_type(urn)!r}; it has {', '.join(KINDS)}"
            )
        return kind

    def _run(self, context: grpc.ServicerContext, action: str, kind: Kind, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except (resources.ApiError, StandinError) as error:
            context.abort(grpc.StatusCode.UNKNOWN, kind.error(action, error))
        except ValueError as error:  # databricks-sdk: no credentials, a bad host
            cause = StandinError(f"cannot configure default credentials: {error}")
            context.abort(grpc.StatusCode.UNKNOWN, kind.error(action, cause))
        raise AssertionError("unreachable: abort raises")

    # --- the provider itself -----------------------------------------------------------------------------

    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=VERSION)

    def GetSchema(
        self, request: provider_pb2.GetSchemaRequest, context: grpc.ServicerContext
    ) -> provider_pb2.GetSchemaResponse:
        # Only `pulumi import` code generation asks; it is run with --generate-code=false here.
        return provider_pb2.GetSchemaResponse(schema=json.dumps({"name": "databricks", "version": VERSION}))

    def CheckConfig(
        self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext
    ) -> provider_pb2.CheckResponse:
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext) -> provider_pb2.DiffResponse:
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(
        self, request: provider_pb2.ConfigureRequest, context: grpc.ServicerContext
    ) -> provider_pb2.ConfigureResponse:
        args = wire.decode(request.args).plain
        for key, value in request.variables.items():
            args.setdefault(key.rsplit(":", 1)[-1], value)
        self._api.configure({key: value for key, value in args.items() if value not in (None, "", wire.UNKNOWN)})
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        return empty_pb2.Empty()  # as the bridge's SDKv2 provider: nothing stops a wait under way

    # --- resources ---------------------------------------------------------------------------------------

    def _encode(self, kind: Kind, plain: Props, secret_keys: set[str]) -> struct_pb2.Struct:
        return wire.encode(_with_secrets(plain, kind.secrets), secret_keys)

    def Check(self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext) -> provider_pb2.CheckResponse:
        kind = self._kind(request.urn)
        if not kind.secrets:
            return provider_pb2.CheckResponse(inputs=request.news)
        # The bridge's Check returns Sensitive inputs as secrets, whatever the program marked.
        values = wire.decode(request.news)
        return provider_pb2.CheckResponse(inputs=self._encode(kind, values.plain, values.secret_keys))

    def Diff(self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext) -> provider_pb2.DiffResponse:
        kind = self._kind(request.urn)
        olds, news = wire.decode(request.olds).plain, wire.decode(request.news).plain
        return _diff(kind, olds, news, tuple(request.ignoreChanges))

    def Create(self, request: provider_pb2.CreateRequest, context: grpc.ServicerContext) -> provider_pb2.CreateResponse:
        kind = self._kind(request.urn)
        values = wire.decode(request.properties)
        if request.preview:
            preview = {**values.plain, **{key: wire.UNKNOWN for key in kind.outputs}}
            return provider_pb2.CreateResponse(id="", properties=self._encode(kind, preview, values.secret_keys))
        outcome: resources.Outcome = self._run(
            context, "create", kind, lambda: kind.create(self._api, values.plain, request.timeout or None)
        )
        return provider_pb2.CreateResponse(
            id=outcome.id, properties=self._encode(kind, outcome.outputs, values.secret_keys)
        )

    def Update(self, request: provider_pb2.UpdateRequest, context: grpc.ServicerContext) -> provider_pb2.UpdateResponse:
        kind = self._kind(request.urn)
        olds, values = wire.decode(request.olds).plain, wire.decode(request.news)
        if request.preview:
            preview = {**values.plain, **{key: olds.get(key, wire.UNKNOWN) for key in kind.outputs}}
            return provider_pb2.UpdateResponse(properties=self._encode(kind, preview, values.secret_keys))
        outcome: resources.Outcome = self._run(
            context,
            "update",
            kind,
            lambda: kind.update(self._api, request.id, olds, values.plain, request.timeout or None),
        )
        return provider_pb2.UpdateResponse(properties=self._encode(kind, outcome.outputs, values.secret_keys))

    def Read(self, request: provider_pb2.ReadRequest, context: grpc.ServicerContext) -> provider_pb2.ReadResponse:
        kind = self._kind(request.urn)
        values = wire.decode(request.properties)
        state: Props | None = self._run(context, "read", kind, lambda: kind.read(self._api, request.id, values.plain))
        if state is None:
            return provider_pb2.ReadResponse(id="")
        # The inputs a refresh or an import records: the state less what only the provider computes.
        inputs = {key: value for key, value in state.items() if key not in kind.outputs and value is not None}
        return provider_pb2.ReadResponse(
            id=request.id,
            properties=self._encode(kind, state, values.secret_keys),
            inputs=self._encode(kind, inputs, values.secret_keys),
        )

    def Delete(self, request: provider_pb2.DeleteRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        kind = self._kind(request.urn)
        recorded = wire.decode(request.properties).plain

        def delete() -> None:
            try:
                kind.delete(self._api, request.id, recorded)
            except resources.NotFoundError:
                pass  # gone already

        self._run(context, "delete", kind, delete)
        return empty_pb2.Empty()

    # --- data sources ------------------------------------------------------------------------------------

    def Invoke(self, request: provider_pb2.InvokeRequest, context: grpc.ServicerContext) -> provider_pb2.InvokeResponse:
        invoke = INVOKES.get(request.tok)
        if invoke is None:
            message = f"the databricks stand-in has no function {request.tok!r}; it has {', '.join(INVOKES)}"
            context.abort(grpc.StatusCode.UNKNOWN, message)
            raise AssertionError("unreachable: abort raises")
        args = wire.decode(request.args).plain
        try:
            answer = invoke(self._api, args)
        except (resources.ApiError, ValueError) as error:
            context.abort(grpc.StatusCode.UNKNOWN, f"cannot read data {INVOKE_LABELS[request.tok]}: {error}")
        return provider_pb2.InvokeResponse(**{"return": wire.encode(answer)})


def _diff(kind: Kind, olds: Props, news: Props, ignored: tuple[str, ...]) -> provider_pb2.DiffResponse:
    """What Terraform's plan shows, as the engine reads it: the paths changed and those forcing a replacement."""
    changed = shape.changed_paths(olds, news, kind.shapes)
    # ignore_changes applies to the engine's inputs before Diff; a path under an ignored one is not sent.
    changed = [p for p in changed if not any(p == i or p.startswith(i + ".") or p.startswith(i + "[") for i in ignored)]
    replacing = [p for p in changed if any(p == r or p.startswith(r + ".") for r in kind.replaces)]
    diff = provider_pb2.PropertyDiff
    return provider_pb2.DiffResponse(
        changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
        diffs=sorted({p.split(".")[0].split("[")[0] for p in changed}),
        replaces=sorted({p.split(".")[0].split("[")[0] for p in replacing}),
        detailedDiff={
            p: provider_pb2.PropertyDiff(kind=diff.UPDATE_REPLACE if p in replacing else diff.UPDATE, inputDiff=True)
            for p in changed
        },
        hasDetailedDiff=True,
    )


def _with_secrets(plain: Props, paths: tuple[str, ...]) -> Props:
    """`plain` with the value at each dotted path (where present and set) wrapped as a secret."""
    if not paths:
        return plain
    result = dict(plain)
    for path in paths:
        head, _, rest = path.partition(".")
        value = result.get(head)
        if rest and isinstance(value, dict):
            result[head] = _with_secrets(value, (rest,))
        elif not rest and value is not None and value != wire.UNKNOWN:
            result[head] = PropertyValue(value).with_secret(True) if isinstance(value, str) else value
    return result


def _engine_answers(channel: grpc.Channel) -> bool:
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check", request_serializer=lambda _: b"", response_deserializer=lambda data: data
    )
    try:
        check(None, timeout=5)
    except grpc.RpcError as error:
        return bool(error.code() != grpc.StatusCode.UNAVAILABLE)  # a busy engine is slow, a gone one refuses
    return True


def serve(engine_address: str | None) -> None:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=64), options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)]
    )
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(DatabricksStandin(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    # The engine ends a plugin with SIGINT: a Go plugin without a handler exits at once, and so does this.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if not engine_address:
        server.wait_for_termination()
        return
    # A provider exits once its engine is gone (the CLI killed), as Go plugins do (`rpcutil.Healthcheck`).
    channel = grpc.insecure_channel(engine_address)
    missed = 0
    while server.wait_for_termination(timeout=ENGINE_CHECK_SECONDS):  # True: the wait timed out
        missed = 0 if _engine_answers(channel) else missed + 1
        if missed >= 2:
            server.stop(grace=None)
            return
