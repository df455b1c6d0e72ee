"""Start the `servingops` plugin exactly as the Pulumi engine does, and play the engine's call sequences.

No Pulumi CLI here; this is the stand-in, built on what the engine's source says
(../shared/notes/pulumi-engine.md; pulumi/pulumi pkg/resource/plugin/plugin.go, provider_plugin.go,
pkg/resource/deploy/step_generator.go, step_executor.go):
- the plugin is the executable `provider/pulumi-resource-servingops`, run with the project root as working
  directory and the engine's address as its last argument; its first stdout line is its port;
- the engine serves `pulumirpc.Engine` (here `FakeEngine`, which keeps every Log call);
- `pulumi up`: for each resource, in the order the program registers them, Check then Diff are issued one
  at a time from the engine's single loop (`Deployment.step_loop`), and Create/Update are handed to
  step workers that run concurrently (up to `--parallel`);
- Ctrl-C: Cancel (30 s), then the engine waits for the running Create/Update calls to return;
- at the end: Cancel again, then SIGINT to the plugin.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2, provider_pb2_grpc

from provider import wire

PROJECT_DIR = Path(__file__).resolve().parent.parent
PLUGIN = PROJECT_DIR / "provider" / "pulumi-resource-servingops"
STACK, PROJECT = "dev", "databricks-serving"
COMPONENT = "serving:index:ServingEndpoint"
READINESS = "servingops:index:EndpointReadiness"
ROLLOUT = "servingops:index:EndpointRollout"
T = TypeVar("T")
CANCEL_TIMEOUT_SECONDS = 30  # what the engine gives Cancel (pkg/resource/plugin/plugin.go)


def urn(type_: str, name: str, parent: str = "risk-classifier") -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{COMPONENT}${type_}::{name}"


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine's Log service on loopback: every line a plugin sends, with its URN."""

    def __init__(self) -> None:
        self.logs: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        engine_pb2_grpc.add_EngineServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def Log(self, request: Any, context: Any) -> Any:
        with self._lock:
            self.logs.append((request.urn, request.message, request.ephemeral))
        return empty_pb2.Empty()

    def lines(self, resource_urn: str | None = None) -> list[str]:
        with self._lock:
            return [message for urn_, message, _ in self.logs if resource_urn is None or urn_ == resource_urn]

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The first log line containing `text`, waiting for it (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if text in line:
                    return line
            time.sleep(0.02)
        raise TimeoutError(f"no log line with {text!r} within {timeout}s; lines: {self.lines()[-10:]}")

    def stop(self) -> None:
        self.server.stop(grace=0)


@dataclass
class Step:
    """One resource's part in a deployment, as the engine sees it."""

    urn: str
    news: dict[str, Any]
    olds: dict[str, Any] | None = None
    """The state's outputs (Diff's olds); None: a new resource."""
    old_inputs: dict[str, Any] | None = None
    """The state's inputs (Check's olds)."""
    resource_id: str = ""
    # what happened
    checked: dict[str, Any] | None = None
    failures: list[Any] = field(default_factory=list)
    diff: Any = None
    outputs: dict[str, Any] | None = None
    error: grpc.RpcError | None = None
    in_flight_at_check: int = 0
    """How many Create/Update calls were waiting when this resource's Check returned."""


class Plugin:
    """The plugin process as the engine starts it, and the engine's calls as plain Python."""

    def __init__(self, env: dict[str, str] | None = None):
        self.engine = FakeEngine()
        self.stderr: list[str] = []
        self.process = subprocess.Popen(
            [str(PLUGIN), "--logtostderr", "-v=0", self.engine.address],
            cwd=PROJECT_DIR,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        port = self.process.stdout.readline().strip()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        if not port.isdigit():
            self.close()
            raise RuntimeError(f"the plugin did not start: {port!r} {''.join(self.stderr)}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=15)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def close(self) -> str:
        """End as the engine does: Cancel, then SIGINT (SIGKILL after 5 s). Returns the plugin's stderr."""
        if getattr(self, "channel", None) is not None:
            try:
                self.stub.Cancel(empty_pb2.Empty(), timeout=5)
            except grpc.RpcError:
                pass
            self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        self.engine.stop()
        return "".join(self.stderr)

    def __enter__(self) -> Plugin:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # --- single calls ----------------------------------------------------------------------------

    def configure(self, config: dict[str, Any], secret_keys: Iterable[str] = ()) -> None:
        """CheckConfig, DiffConfig and Configure, as for an explicit provider resource with these inputs."""
        secrets = set(secret_keys)
        news = wire.encode(config, secrets)
        checked = self.stub.CheckConfig(provider_pb2.CheckRequest(urn=self.provider_urn, news=news))
        assert not checked.failures, checked.failures
        self.stub.DiffConfig(provider_pb2.DiffRequest(urn=self.provider_urn, news=checked.inputs))
        self.stub.Configure(
            provider_pb2.ConfigureRequest(args=checked.inputs, acceptSecrets=True, acceptResources=True)
        )

    provider_urn = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:servingops::workspace"

    def check(
        self, urn_: str, news: dict[str, Any], olds: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[Any]]:
        response = self.stub.Check(
            provider_pb2.CheckRequest(urn=urn_, olds=wire.encode(olds or {}), news=wire.encode(news))
        )
        return wire.decode(response.inputs).plain, list(response.failures)

    def diff(self, urn_: str, resource_id: str, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        return self.stub.Diff(
            provider_pb2.DiffRequest(urn=urn_, id=resource_id, olds=wire.encode(olds), news=wire.encode(news))
        )

    def _counted(self, call: Callable[[], T]) -> T:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return call()
        finally:
            with self._lock:
                self.in_flight -= 1

    def create(
        self, urn_: str, news: dict[str, Any], preview: bool = False, timeout: float = 300
    ) -> tuple[str, dict[str, Any]]:
        response = self._counted(
            lambda: self.stub.Create(
                provider_pb2.CreateRequest(urn=urn_, properties=wire.encode(news), preview=preview), timeout=timeout
            )
        )
        return response.id, wire.decode(response.properties).plain

    def update(
        self,
        urn_: str,
        resource_id: str,
        olds: dict[str, Any],
        news: dict[str, Any],
        preview: bool = False,
        timeout: float = 300,
    ) -> dict[str, Any]:
        response = self._counted(
            lambda: self.stub.Update(
                provider_pb2.UpdateRequest(
                    urn=urn_, id=resource_id, olds=wire.encode(olds), news=wire.encode(news), preview=preview
                ),
                timeout=timeout,
            )
        )
        return wire.decode(response.properties).plain

    def read(
        self, urn_: str, resource_id: str, outputs: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        response = self.stub.Read(
            provider_pb2.ReadRequest(
                urn=urn_, id=resource_id, properties=wire.encode(outputs), inputs=wire.encode(inputs)
            )
        )
        return response.id, wire.decode(response.properties).plain, wire.decode(response.inputs).plain

    def delete(self, urn_: str, resource_id: str, outputs: dict[str, Any]) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(urn=urn_, id=resource_id, properties=wire.encode(outputs)))

    def cancel(self) -> float:
        """Ctrl-C: the Cancel RPC with the engine's timeout; returns how long it took."""
        started = time.monotonic()
        self.stub.Cancel(empty_pb2.Empty(), timeout=CANCEL_TIMEOUT_SECONDS)
        return time.monotonic() - started

    # --- the engine's sequences ------------------------------------------------------------------

    def deploy(
        self,
        steps: list[Step],
        *,
        preview: bool = False,
        parallel: int = 16,
        registered: queue.Queue[Step | None] | None = None,
        abort_after_check: bool = False,
    ) -> list[Step]:
        """One `pulumi up` (or preview) over `steps`, as the engine runs it.

        The engine's loop takes resources in registration order (from `registered`, fed by the caller as
        the program registers them, or all of `steps` at once), and for each issues Check, then Diff for a
        resource that exists, one call at a time; a resource that needs work is handed to a step worker
        (at most `parallel` at once) and the loop goes on. `abort_after_check`: the deployment stops after
        the first Check (another resource failed, a policy violation): no Create/Update follows.
        """
        if registered is None:
            registered = queue.Queue()
            for declared in steps:
                registered.put(declared)
            registered.put(None)
        workers = futures.ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="step-worker")
        running: list[futures.Future[None]] = []
        while (step := registered.get(timeout=120)) is not None:
            step.checked, step.failures = self.check(step.urn, step.news, step.old_inputs)
            step.in_flight_at_check = self.in_flight
            if step.failures or abort_after_check:
                break
            if step.olds is not None:
                step.diff = self.diff(step.urn, step.resource_id, step.olds, step.checked)
                if step.diff.changes != provider_pb2.DiffResponse.DIFF_SOME:
                    step.outputs = step.olds
                    continue
            running.append(workers.submit(self._apply, step, preview))
        for future in running:
            future.result()
        workers.shutdown()
        return steps

    def _apply(self, step: Step, preview: bool) -> None:
        try:
            if step.olds is None:
                step.resource_id, step.outputs = self.create(step.urn, step.checked or step.news, preview=preview)
            else:
                step.outputs = self.update(
                    step.urn, step.resource_id, step.olds, step.checked or step.news, preview=preview
                )
        except grpc.RpcError as error:
            step.error = error


def everything_said(plugin: Plugin, steps: Iterable[Step]) -> str:
    """All a plugin returned, logged or printed, as one text (for leak checks)."""
    parts = [json.dumps([step.outputs, step.checked], default=str) for step in steps]
    parts += [step.error.details() for step in steps if step.error is not None]
    parts += plugin.engine.lines()
    parts += plugin.stderr
    return "\n".join(parts)
