"""Running the emulator from tests and benchmarks.

    with running_emulator(update_seconds=0.2) as emu:
        w = emu.workspace_client()            # databricks-sdk WorkspaceClient on the emulator
        emu.burst("my-endpoint", count=3)     # admin API
        requests.get(f"{emu.url}/api/2.0/serving-endpoints", headers=emu.headers())

`running_emulator` serves in a thread of this process; `emulator_process` runs
`python -m emulator` as a separate process with a settings file. Both yield an `EmulatorHandle`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypedDict

import requests
import yaml

from emulator.server import bind_loopback, make_server, url_of
from emulator.settings import EmulatorSettings

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

STARTUP_TIMEOUT_SECONDS = 15.0


class PatClientConfig(TypedDict):
    """`WorkspaceClient(**...)` keywords for a personal access token (typed, so the sdk's keywords are checked)."""

    host: str
    token: str
    auth_type: str


class OAuthClientConfig(TypedDict):
    """`WorkspaceClient(**...)` keywords for OAuth M2M with a service principal's secret."""

    host: str
    client_id: str
    client_secret: str
    auth_type: str


class EmulatorAdmin:
    """The admin API (`/_emulator`: faults, counters, reset, workspace objects) of the emulator at `url`."""

    def __init__(self, url: str, admin_token: str):
        self.url = url
        self.admin_token = admin_token
        self._admin = requests.Session()
        self._admin.headers["Authorization"] = f"Bearer {self.admin_token}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        response = self._admin.request(
            method,
            f"{self.url}/_emulator{path}",
            json=body,
            params={k: v for k, v in params.items() if v is not None},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/reset")

    def counters(self) -> dict[str, Any]:
        """{"api_calls": {"GET /api/2.0/serving-endpoints/{name}": n, ...},
        "get_calls": {endpoint: n}, "invocations": {endpoint: {served_entity: n}}}"""
        counters: dict[str, Any] = self._call("GET", "/counters")
        return counters

    def faults(self) -> dict[str, Any]:
        faults: dict[str, Any] = self._call("GET", "/faults")
        return faults

    def clear_faults(self, endpoint: str | None = None) -> None:
        self._call("DELETE", "/faults", endpoint=endpoint)

    def fail_next_deployment(
        self,
        endpoint: str,
        served_entity: str | None = None,
        message: str = "Injected fault: the container image build failed.",
    ) -> None:
        self._call(
            "POST",
            "/faults/fail-next-deployment",
            {"endpoint": endpoint, "served_entity": served_entity, "message": message},
        )

    def burst(
        self,
        endpoint: str,
        count: int,
        status_code: int = 429,
        served_entity: str | None = None,
        retry_after_seconds: int = 1,
    ) -> None:
        self._call(
            "POST",
            "/faults/burst",
            {
                "endpoint": endpoint,
                "served_entity": served_entity,
                "count": count,
                "status_code": status_code,
                "retry_after_seconds": retry_after_seconds,
            },
        )

    def set_latency(self, endpoint: str, seconds: float, served_entity: str | None = None) -> None:
        self._call(
            "POST", "/faults/latency", {"endpoint": endpoint, "served_entity": served_entity, "seconds": seconds}
        )

    def set_error_rate(
        self, endpoint: str, rate: float, served_entity: str | None = None, status_code: int = 500
    ) -> None:
        self._call(
            "POST",
            "/faults/error-rate",
            {"endpoint": endpoint, "served_entity": served_entity, "rate": rate, "status_code": status_code},
        )

    def stick_update(self, endpoint: str) -> None:
        self._call("POST", "/faults/stuck-update", {"endpoint": endpoint})

    def release_update(self, endpoint: str) -> None:
        self._call("POST", "/faults/release-update", {"endpoint": endpoint})

    def not_ready_after_update(
        self, endpoint: str, seconds: float | None = None, served_entity: str | None = None
    ) -> None:
        self._call(
            "POST",
            "/faults/not-ready-after-update",
            {"endpoint": endpoint, "served_entity": served_entity, "seconds": seconds},
        )

    def delete_out_of_band(self, endpoint: str) -> None:
        self._call("DELETE", f"/endpoints/{endpoint}")

    def register_model_version(
        self,
        model: str,
        version: str,
        *,
        weights: dict[str, float] | None = None,
        bias: float = 0.0,
        same_as: str | None = None,
        columns: list[str] | None = None,
    ) -> None:
        self._call(
            "POST",
            f"/models/{model}/versions",
            {"version": version, "weights": weights, "bias": bias, "same_as": same_as, "columns": columns},
        )

    def add_object(self, kind: str, **body: Any) -> None:
        """Add a workspace object a preflight reads: `model-versions` (model, version, status), `aliases`
        (model, alias, version), `registry-versions` (model, version, status, stage), `service-principals`
        (application_id, display_name), `groups` (name), `secrets` (scope, key), `schemas` (full_name),
        `grants` (securable, principal, privileges)."""
        self._call("PUT", f"/objects/{kind}", body)

    def remove_object(self, kind: str, **body: Any) -> None:
        """Take one away (same names as `add_object`; `secrets` without a key removes the scope)."""
        self._call("DELETE", f"/objects/{kind}", body)


class EmulatorHandle(EmulatorAdmin):
    """Where the emulator listens, which tokens it accepts, and (inherited) its admin API as methods."""

    def __init__(self, url: str, settings: EmulatorSettings, data_plane_url: str | None = None):
        super().__init__(url, settings.admin_token)
        self.data_plane_url = data_plane_url
        """Where route-optimized endpoints are queried (their `endpoint_url` starts with it)."""
        self.settings = settings

    def __repr__(self) -> str:  # never show tokens
        return f"EmulatorHandle(url={self.url!r})"

    # ---- workspace credentials --------------------------------------------------------------

    def token(self, principal: str | None = None) -> str:
        """The token of `principal` (user name or service principal id); by default an admin's."""
        for token, spec in self.settings.tokens.items():
            if (principal is None and spec.is_admin) or spec.principal == principal:
                return token
        raise KeyError(f"no token configured for {principal or 'an admin'}")

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token()}"}

    def client_config(self, token: str | None = None) -> PatClientConfig:
        """Keyword arguments for `WorkspaceClient(**...)` / `databricks.sdk.core.Config(**...)`.
        databricks-sdk accepts a plain-http loopback host with a personal access token."""
        return {"host": self.url, "token": token or self.token(), "auth_type": "pat"}

    def workspace_client(self, token: str | None = None) -> WorkspaceClient:
        from databricks.sdk import WorkspaceClient

        return WorkspaceClient(**self.client_config(token))

    def oauth_client_config(self, client_id: str | None = None) -> OAuthClientConfig:
        """Keyword arguments for an OAuth M2M `WorkspaceClient` of a service principal with an OAuth secret
        in `settings.oauth_clients` (by default the first one)."""
        client_id = client_id or next(iter(self.settings.oauth_clients))
        secret = self.settings.oauth_clients[client_id].client_secret
        return {"host": self.url, "client_id": client_id, "client_secret": secret, "auth_type": "oauth-m2m"}

    def oauth_workspace_client(self, client_id: str | None = None) -> WorkspaceClient:
        from databricks.sdk import WorkspaceClient

        return WorkspaceClient(**self.oauth_client_config(client_id))


def _resolve(settings: EmulatorSettings | None, overrides: dict[str, Any]) -> EmulatorSettings:
    settings = settings or EmulatorSettings()
    return settings.with_overrides(**overrides) if overrides else settings


def wait_until_healthy(url: str, alive: Callable[[], bool]) -> None:
    """Until the emulator at `url` answers its health check; `alive()` False: it stopped (RuntimeError)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the emulator stopped during startup")
        try:
            if requests.get(f"{url}/_emulator/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"the emulator did not answer at {url} within {STARTUP_TIMEOUT_SECONDS}s")


@contextmanager
def running_emulator(settings: EmulatorSettings | None = None, **overrides: Any) -> Iterator[EmulatorHandle]:
    """Serve the emulator in a background thread on 127.0.0.1 (a free port) for the `with` block."""
    settings = _resolve(settings, overrides)
    sock, data_plane_sock = bind_loopback("127.0.0.1", 0), bind_loopback("127.0.0.1", 0)
    url, data_plane_url = url_of(sock), url_of(data_plane_sock)
    server = make_server(settings, data_plane_url=data_plane_url)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock, data_plane_sock]}, name="emulator", daemon=True
    )
    thread.start()
    try:
        wait_until_healthy(url, thread.is_alive)
        yield EmulatorHandle(url, settings, data_plane_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        data_plane_sock.close()


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


@contextmanager
def emulator_process(
    settings: EmulatorSettings | None = None, *, args: Sequence[str] = (), **overrides: Any
) -> Iterator[EmulatorHandle]:
    """Run `python -m emulator --port 0 --settings <file> [args]` as a child process for the `with` block;
    it is stopped with SIGTERM (a graceful stop: a `--state-file` is saved)."""
    settings = _resolve(settings, overrides)
    with tempfile.TemporaryDirectory(prefix="emulator-") as directory:
        settings_file = Path(directory) / "settings.yaml"
        settings_file.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                "--port",
                "0",
                "--settings",
                str(settings_file),
                "--log-level",
                "warning",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            first_line = process.stdout.readline() if process.stdout else ""
            if " on http" not in first_line:
                raise RuntimeError(f"the emulator process did not start: {first_line.strip()!r}")
            url = first_line.strip().rsplit(" ", 1)[-1]
            # Keep reading the child's output so a full pipe can never block it.
            threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
            wait_until_healthy(url, lambda: process.poll() is None)
            health = requests.get(f"{url}/_emulator/health", timeout=5).json()
            yield EmulatorHandle(url, settings, health.get("data_plane_url"))
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
