"""Drive Pulumi's own dynamic provider host (`python -m pulumi.dynamic`) over gRPC, as the engine does.

No Pulumi CLI here; this is the most faithful stand-in for `pulumi up` calling a dynamic provider: the
same host process, the same gRPC calls and property encoding, the provider unpickled from `__provider`.
Used by the provider tests and by `bench.readiness`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

PROJECT_DIR = Path(__file__).resolve().parent.parent
READINESS_TYPE = "pulumi-python:dynamic/serving:EndpointReadiness"


def urn(name: str, stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::databricks-serving::serving:index:ServingEndpoint${READINESS_TYPE}::{name}"


def _struct(values: dict[str, Any]):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(values, {}))
    finally:
        loop.close()


def _plain(struct) -> dict[str, Any]:
    return rpc.deserialize_properties(struct, keep_unknowns=True)


class ProviderHost:
    """One `python -m pulumi.dynamic` process, its gRPC stub and everything it printed."""

    def __init__(self, env: dict[str, str] | None = None):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pulumi.dynamic"],
            cwd=PROJECT_DIR,
            env={
                **os.environ,
                **(env or {}),
                "PULUMI_PROJECT": "databricks-serving",
                # The provider pickles by reference to `components.readiness`: the host imports it from here.
                "PYTHONPATH": str(PROJECT_DIR),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.close()
            raise RuntimeError(f"the provider host did not start: {port!r} {self.process.stderr.read()}")
        self.output: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(stream,), daemon=True)
            for stream in (self.process.stdout, self.process.stderr)
        ]
        for reader in self._readers:
            reader.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=15)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def _collect(self, stream) -> None:
        for line in stream:
            self.output.append(line)

    def close(self) -> str:
        """Stop the host; return everything it printed."""
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for reader in getattr(self, "_readers", []):
            reader.join(timeout=5)
        return "".join(getattr(self, "output", []))

    def __enter__(self) -> ProviderHost:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # --- the engine's calls ------------------------------------------------------------------------

    def configure(self, config: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> None:
        """Send the stack config as the engine does, secret values marked secret."""
        values = {key: rpc.wrap_rpc_secret(value) if key in secret_keys else value for key, value in config.items()}
        self.stub.Configure(provider_pb2.ConfigureRequest(args=_struct(values), acceptSecrets=True))

    def check(self, name: str, olds: dict[str, Any], news: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        response = self.stub.Check(provider_pb2.CheckRequest(urn=urn(name), olds=_struct(olds), news=_struct(news)))
        return _plain(response.inputs), list(response.failures)

    def create(self, name: str, properties: dict[str, Any], timeout: float = 120) -> tuple[str, dict[str, Any]]:
        response = self.stub.Create(
            provider_pb2.CreateRequest(urn=urn(name), properties=_struct(properties)), timeout=timeout
        )
        return response.id, _plain(response.properties)

    def diff(self, name: str, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        return self.stub.Diff(provider_pb2.DiffRequest(id=id_, urn=urn(name), olds=_struct(olds), news=_struct(news)))

    def update(self, name: str, id_: str, olds: dict[str, Any], news: dict[str, Any], timeout: float = 120):
        response = self.stub.Update(
            provider_pb2.UpdateRequest(id=id_, urn=urn(name), olds=_struct(olds), news=_struct(news)), timeout=timeout
        )
        return _plain(response.properties)

    def read(self, name: str, id_: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        response = self.stub.Read(provider_pb2.ReadRequest(id=id_, urn=urn(name), properties=_struct(properties)))
        return response.id, _plain(response.properties), _plain(response.inputs)

    def delete(self, name: str, id_: str, properties: dict[str, Any]) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=urn(name), properties=_struct(properties)))


def with_provider(props: dict[str, Any], provider: Any) -> dict[str, Any]:
    """Inputs as the program registers them: the pickled provider under `__provider`."""
    return {**props, "__provider": serialize_provider(provider)}
