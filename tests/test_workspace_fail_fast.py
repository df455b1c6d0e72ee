"""The workspace client fails in seconds on a host that cannot be reached and without credentials, with a
message naming what to set (never a credential), and still rides out a slow workspace's 503s.

Attempts are counted, not timed: each test bounds the connections it allows.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import urllib3.util.connection

from serving.workspace import (
    CONNECT_TIMEOUT_SECONDS,
    CONTROL_PLANE_RETRY,
    RETRY_AFTER_CAP_SECONDS,
    SDK_RETRY_TIMEOUT_SECONDS,
    MissingCredentialsError,
    ServingClient,
    WorkspaceConfigError,
    WorkspaceUnreachableError,
    sdk_config,
)
from tests.engine_driver import Plugin, everything_said
from tests.support import (
    DEPLOYER_TOKEN,
    TOKEN,
    clear_databricks_environment,
    closed_port,
    preflight_props,
    preflight_step,
)

CLIENT_SECRET = "dose-fail-fast-secret-value"


@pytest.fixture(autouse=True)
def nothing_in_the_environment(monkeypatch, tmp_path):
    clear_databricks_environment(monkeypatch, tmp_path)


def counting(monkeypatch, module, name: str) -> list[tuple]:
    """Record every call of `module.name` (a connection attempt) and let it go on."""
    original, attempts = getattr(module, name), []

    def attempt(address, *args, **kwargs):
        attempts.append(address)
        return original(address, *args, **kwargs)

    monkeypatch.setattr(module, name, attempt)
    return attempts


def test_a_refused_connection_fails_at_the_first_attempt_naming_the_host_settings(monkeypatch):
    attempts = counting(monkeypatch, socket, "create_connection")
    port = closed_port()
    with pytest.raises(WorkspaceUnreachableError) as raised:
        sdk_config({"databricks:host": f"http://127.0.0.1:{port}", "databricks:token": TOKEN}.get)
    assert attempts == [("127.0.0.1", port)]
    message = str(raised.value)
    assert f"cannot reach the workspace http://127.0.0.1:{port}: connection refused on port {port}" in message
    assert "databricks:host" in message and "DATABRICKS_HOST" in message and "DATABRICKS_CONFIG_PROFILE" in message
    assert TOKEN not in message


def test_an_unknown_host_name_fails_at_the_first_attempt(monkeypatch):
    attempts = []

    def no_such_name(address, *args, **kwargs):
        attempts.append(address)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_such_name)
    with pytest.raises(WorkspaceUnreachableError) as raised:
        sdk_config({"databricks:host": "https://adb-1.example.invalid", "databricks:token": TOKEN}.get)
    assert attempts == [("adb-1.example.invalid", 443)]
    assert "no such host name 'adb-1.example.invalid'" in str(raised.value)


def test_a_host_that_never_answers_fails_after_one_bounded_attempt(monkeypatch):
    attempts = []

    def no_answer(address, timeout=None, *args, **kwargs):
        attempts.append((address, timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", no_answer)
    with pytest.raises(WorkspaceUnreachableError) as raised:
        sdk_config({"databricks:host": "https://adb-1.example.invalid", "databricks:token": TOKEN}.get)
    assert attempts == [(("adb-1.example.invalid", 443), CONNECT_TIMEOUT_SECONDS)]
    assert str(raised.value).startswith(
        "cannot reach the workspace https://adb-1.example.invalid: no answer within "
        f"{CONNECT_TIMEOUT_SECONDS:g} s; check databricks:host"
    )


def test_behind_a_proxy_the_proxy_is_what_must_answer(monkeypatch):
    attempts = []

    def refused(address, *args, **kwargs):
        attempts.append(address)
        raise ConnectionRefusedError()

    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.invalid:3128")
    with pytest.raises(WorkspaceUnreachableError) as raised:
        sdk_config({"databricks:host": "https://adb-1.example.invalid", "databricks:token": TOKEN}.get)
    assert attempts == [("proxy.corp.invalid", 3128)]
    assert "cannot reach the proxy proxy.corp.invalid:3128 for https://adb-1.example.invalid" in str(raised.value)


def test_without_credentials_the_message_names_each_way_to_authenticate(workspace):
    with pytest.raises(MissingCredentialsError) as raised:
        sdk_config({"databricks:host": workspace.url}.get)
    message = str(raised.value)
    assert message.startswith(f"no Databricks credentials for {workspace.url}: set ")
    for setting in (
        "DATABRICKS_TOKEN",
        "databricks:token",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "databricks:clientId",
        "databricks:clientSecret",
        "DATABRICKS_CONFIG_PROFILE",
        "databricks:profile",
    ):
        assert setting in message


def test_without_a_host_the_message_names_where_the_host_is_set():
    with pytest.raises(MissingCredentialsError) as raised:
        sdk_config({"databricks:token": TOKEN}.get)
    message = str(raised.value)
    assert message.startswith("no Databricks workspace host: set databricks:host in the stack file")
    assert "DATABRICKS_HOST" in message and TOKEN not in message


def test_an_authentication_error_never_shows_a_credential(workspace, monkeypatch):
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", CLIENT_SECRET)
    with pytest.raises(WorkspaceConfigError) as raised:
        sdk_config({"databricks:host": workspace.url, "databricks:token": TOKEN, "databricks:clientId": "sp"}.get)
    message = str(raised.value)
    assert "more than one authorization method configured" in message
    assert TOKEN not in message and CLIENT_SECRET not in message


def test_the_sdk_retry_budget_is_bounded_unless_the_stack_sets_one(workspace):
    bounded = sdk_config({"databricks:host": workspace.url, "databricks:token": DEPLOYER_TOKEN}.get)
    assert bounded.retry_timeout_seconds == SDK_RETRY_TIMEOUT_SECONDS == 60
    chosen = sdk_config(
        {
            "databricks:host": workspace.url,
            "databricks:token": DEPLOYER_TOKEN,
            "databricks:retryTimeoutSeconds": 120,
        }.get
    )
    assert chosen.retry_timeout_seconds == 120


class SlowWorkspace(BaseHTTPRequestHandler):
    """A workspace that answers the first read of an endpoint with 503, then with the endpoint."""

    def do_GET(self) -> None:
        self.server.reads.append(self.path)
        if self.path != "/api/2.0/serving-endpoints/risk-classifier":
            self._answer(404, {"error_code": "NOT_FOUND", "message": "no such path"})
        elif self.server.busy_answers > 0:
            self.server.busy_answers -= 1
            self._answer(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}, retry_after="0")
        else:
            self._answer(200, {"name": "risk-classifier", "state": {"ready": "READY"}})

    def _answer(self, status: int, body: dict, retry_after: str | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def slow_workspace() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowWorkspace)
    server.reads, server.busy_answers = [], 1
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_busy_workspace_answering_503_then_200_is_read_after_a_retry(slow_workspace):
    host = f"http://127.0.0.1:{slow_workspace.server_address[1]}"
    client = ServingClient(sdk_config({"databricks:host": host, "databricks:token": TOKEN}.get))
    assert client.get_endpoint("risk-classifier")["name"] == "risk-classifier"
    endpoint_reads = [path for path in slow_workspace.reads if path.startswith("/api/2.0/serving-endpoints")]
    assert endpoint_reads == ["/api/2.0/serving-endpoints/risk-classifier"] * 2


def test_a_workspace_that_stops_answering_is_given_up_after_three_connection_attempts(slow_workspace, monkeypatch):
    host = f"http://127.0.0.1:{slow_workspace.server_address[1]}"
    client = ServingClient(sdk_config({"databricks:host": host, "databricks:token": TOKEN}.get))
    slow_workspace.shutdown()
    slow_workspace.server_close()
    monkeypatch.setattr(CONTROL_PLANE_RETRY, "backoff_factor", 0)
    attempts = counting(monkeypatch, urllib3.util.connection, "create_connection")
    with pytest.raises(requests.ConnectionError):
        client.get_endpoint("risk-classifier")
    assert len(attempts) == 1 + CONTROL_PLANE_RETRY.connect == 3


def test_a_retry_after_longer_than_the_cap_is_cut_to_the_cap():
    throttled = requests.structures.CaseInsensitiveDict({"Retry-After": "3600"})
    answer = type("Answer", (), {"headers": throttled})()
    assert CONTROL_PLANE_RETRY.get_retry_after(answer) == RETRY_AFTER_CAP_SECONDS


@pytest.mark.slow
def test_the_plugin_preview_against_an_unreachable_host_says_which_host_and_what_to_set(tmp_path):
    port = closed_port()
    plugin = Plugin(env={"DATABRICKS_CONFIG_FILE": str(tmp_path / "none.cfg"), "HOME": str(tmp_path)})
    try:
        plugin.configure({"host": f"http://127.0.0.1:{port}", "token": TOKEN}, secret_keys={"token"})
        step = preflight_step(preflight_props())
        plugin.deploy([step], preview=True)
        details = step.error.details()
        assert f"cannot reach the workspace http://127.0.0.1:{port}: connection refused" in details
        assert "unexpected" not in details and "DATABRICKS_HOST" in details
        assert TOKEN not in everything_said(plugin, [step])
    finally:
        plugin.close()


@pytest.mark.slow
def test_the_plugin_without_credentials_skips_preflight_naming_what_to_set(tmp_path, workspace):
    plugin = Plugin(env={"DATABRICKS_CONFIG_FILE": str(tmp_path / "none.cfg"), "HOME": str(tmp_path)})
    try:
        plugin.configure({"host": workspace.url})
        step = preflight_step(preflight_props())
        plugin.deploy([step], preview=True)
        assert step.error is None
        said = [line for line in plugin.engine.lines() if "no workspace credentials" in line]
        assert len(said) == 1 and "DATABRICKS_TOKEN" in said[0] and "DATABRICKS_CLIENT_ID" in said[0]
    finally:
        plugin.close()
