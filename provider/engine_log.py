"""Progress and diagnostics on a resource's row, through the engine's Log service.

A plugin's stdout and stderr are hidden from the user (../shared/notes/pulumi-engine.md); the engine's
`Log` RPC, given the resource's URN, puts a line on that resource's row.
"""

from __future__ import annotations

import grpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc


class EngineLog:
    """Progress lines on a resource's row, through the engine's Log service. Never fails the work."""

    def __init__(self, address: str | None):
        self._stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address)) if address else None

    def info(self, urn: str, message: str) -> None:
        """A passing progress line (ephemeral: the row shows the latest)."""
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

    def _lasting(self, severity: engine_pb2.LogSeverity.ValueType, urn: str, message: str) -> None:
        if self._stub is None:
            return
        try:
            self._stub.Log(engine_pb2.LogRequest(severity=severity, message=message, urn=urn), timeout=5)
        except grpc.RpcError:
            pass
