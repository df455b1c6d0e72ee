"""The `servingops` plugin, started as the engine starts it and driven in the engine's own call order.

Every sequence here is one the engine really plays (tests/engine_driver.py says where its source says
so), and each is asserted against the emulator's state: what was sent, what serves, what callers saw.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
import requests

from provider.wire import UNKNOWN
from serving.workspace import ServingClient
from tests.engine_driver import READINESS, ROLLOUT, Plugin, Step, everything_said, urn
from tests.support import (
    DEPLOYER_TOKEN,
    POLL_SECONDS,
    Callers,
    configured,
    create_endpoint,
    deployer_client,
    entity,
    live_split,
    new_endpoint,
    readiness_props,
    rollout_props,
)

pytestmark = pytest.mark.slow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def client(workspace) -> ServingClient:
    return deployer_client(workspace)


@pytest.fixture
def plugin(workspace):
    plugin = configured(workspace.url)
    yield plugin
    plugin.close()


def touched(workspace, name: str) -> dict:
    """Every call the emulator counted for endpoint `name`."""
    counters = workspace.counters()
    return {"gets": counters["get_calls"].get(name, 0), "invocations": counters["invocations"].get(name, {})}


# --- the plugin as the engine starts it ----------------------------------------------------------------


def test_the_plugin_serves_its_schema_with_every_resource_type_and_a_secret_token(plugin):
    from pulumi.runtime.proto import provider_pb2

    schema = json.loads(plugin.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0)).schema)
    assert schema["name"] == "servingops"
    assert set(schema["resources"]) == {
        READINESS,
        ROLLOUT,
        "servingops:index:EndpointNotifications",
        "servingops:index:Preflight",
        "servingops:index:EndpointDeployment",
    }
    for resource in schema["resources"].values():
        for prop in {**resource["inputProperties"], **resource["properties"]}.values():
            assert prop["description"] and ("type" in prop or "$ref" in prop)
    assert schema["provider"]["inputProperties"]["token"]["secret"] is True
    assert schema["provider"]["inputProperties"]["clientSecret"]["secret"] is True


def test_pulumi_yaml_names_the_plugin_by_its_own_package_and_folder():
    import yaml

    from tests.engine_driver import PLUGIN, PROJECT_DIR

    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["plugins"]["providers"] == [{"name": "servingops", "path": "./provider"}]
    assert project["name"] != "servingops"  # the engine would hand the project's own keys to the plugin
    assert PLUGIN.name == "pulumi-resource-servingops" and PLUGIN.stat().st_mode & 0o111


# --- preview ---------------------------------------------------------------------------------------------


def test_a_preview_sends_nothing_to_the_workspace_and_returns_unknown_outputs(workspace, client, plugin):
    name = new_endpoint(workspace, "preview")
    endpoint_id = client.get_endpoint(name)["id"]
    before = touched(workspace, name)
    readiness = Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, endpoint_id, {3: 100, 4: 0}))
    rollout = Step(urn(ROLLOUT, f"{name}-rollout"), rollout_props(name, endpoint_id, 50))
    # a new endpoint: its id is not known in a preview
    fresh = Step(
        urn(READINESS, "fresh-readiness"), {**readiness_props("fresh", UNKNOWN, {3: 100}), "endpoint_name": UNKNOWN}
    )
    plugin.deploy([readiness, rollout, fresh], preview=True)
    assert [step.failures for step in (readiness, rollout, fresh)] == [[], [], []]
    assert [step.error for step in (readiness, rollout, fresh)] == [None, None, None]
    assert readiness.outputs["verified_versions"] == UNKNOWN and readiness.outputs["endpoint_name"] == name
    assert rollout.outputs["last_good_split"] == UNKNOWN and rollout.outputs["report"] == UNKNOWN
    assert readiness.resource_id == ""
    assert touched(workspace, name) == before
    assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}


def test_an_update_preview_sends_nothing_either(workspace, client, plugin):
    name = new_endpoint(workspace, "updpreview")
    endpoint_id = client.get_endpoint(name)["id"]
    old = readiness_props(name, endpoint_id, {3: 100, 4: 0})
    step = Step(
        urn(READINESS, f"{name}-readiness"),
        readiness_props(name, endpoint_id, {3: 90, 4: 10}),
        olds=old,
        old_inputs=old,
        resource_id=f"{name}-readiness",
    )
    before = touched(workspace, name)
    plugin.deploy([step], preview=True)
    assert list(step.diff.diffs) == ["traffic"]
    assert step.outputs["verified_traffic"] == UNKNOWN
    assert touched(workspace, name) == before


# --- an update, resources registered one after another ----------------------------------------------------


def test_twelve_endpoints_check_answers_while_every_earlier_create_waits(workspace, client, plugin):
    """The engine issues Check/Diff from one loop while earlier Creates run: none may wait for another."""
    names = [unique(f"many{i:02d}") for i in range(12)]
    for name in names:
        workspace.stick_update(name)  # every endpoint stays IN_PROGRESS until released: readiness waits
        create_endpoint(workspace, name, {3: 100})
    ids = {name: client.get_endpoint(name)["id"] for name in names}
    steps = [
        Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, ids[name], {3: 100}, timeout=60))
        for name in names
    ]
    registered: queue.Queue = queue.Queue()
    engine = threading.Thread(target=plugin.deploy, args=(steps,), kwargs={"registered": registered})
    engine.start()
    for index, step in enumerate(steps):
        registered.put(step)  # the program registers the next resource
        deadline = time.monotonic() + 30
        while plugin.in_flight < index + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [step.in_flight_at_check for step in steps] == list(range(12))
    assert plugin.in_flight == 12
    for name in names:
        workspace.release_update(name)
    registered.put(None)
    engine.join(timeout=120)
    assert [step.error for step in steps] == [None] * 12
    assert [step.outputs["verified_versions"] for step in steps] == [{"risk_classifier-3": "3"}] * 12
    assert [step.resource_id for step in steps] == [f"{name}-readiness" for name in names]


def test_a_check_with_no_create_after_it_leaves_the_workspace_untouched(workspace, client, plugin):
    """A deployment stopped after Check (another resource failed, a policy violation, Ctrl-C)."""
    name = new_endpoint(workspace, "aborted")
    endpoint_id = client.get_endpoint(name)["id"]
    before = touched(workspace, name)
    steps = [
        Step(urn(ROLLOUT, f"{name}-rollout"), rollout_props(name, endpoint_id, 50)),
        Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, endpoint_id, {3: 50, 4: 50})),
    ]
    plugin.deploy(steps, abort_after_check=True)
    time.sleep(1.0)  # anything started in Check would have polled by now
    assert steps[0].failures == [] and steps[0].outputs is None
    assert touched(workspace, name) == before
    assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}


def test_a_failed_verification_fails_create_with_the_message_alone(workspace, client, plugin):
    name = unique("fails")
    workspace.fail_next_deployment(name, message="conda env solve failed")
    create_endpoint(workspace, name, {3: 100})
    endpoint_id = client.get_endpoint(name)["id"]
    [step] = plugin.deploy([Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, endpoint_id, {3: 100}))])
    message = step.error.details()
    assert message.startswith(f"endpoint {name} cannot serve: served entity risk_classifier-3")
    assert "conda env solve failed" in message
    assert "Traceback" not in message and 'File "' not in message and "Unexpected" not in message


def test_progress_reaches_the_resources_own_row(workspace, client, plugin):
    name = unique("progress")
    workspace.stick_update(name)
    create_endpoint(workspace, name, {3: 90, 4: 10})
    endpoint_id = client.get_endpoint(name)["id"]
    resource = urn(READINESS, f"{name}-readiness")
    step = Step(resource, readiness_props(name, endpoint_id, {3: 90, 4: 10}))
    engine = threading.Thread(target=plugin.deploy, args=([step],))
    engine.start()
    waiting = plugin.engine.wait_for(f"{name}: IN_PROGRESS")
    workspace.release_update(name)
    engine.join(timeout=60)
    assert step.error is None
    assert waiting.startswith(f"{name}: IN_PROGRESS, NOT_READY, 0 of 2 served entities ready, ")
    lines = plugin.engine.lines(resource)
    assert f"{name}: serving risk_classifier-3 v3 90%, risk_classifier-4 v4 10%, verified" in lines
    assert {urn_ for urn_, _, _ in plugin.engine.logs} == {resource}


# --- Ctrl-C -----------------------------------------------------------------------------------------------


def test_ctrl_c_during_a_bake_puts_the_last_good_split_back_before_cancel_returns(workspace, client, plugin):
    name = new_endpoint(workspace, "cancelbake")
    endpoint_id = client.get_endpoint(name)["id"]
    props = rollout_props(name, endpoint_id, 100, steps=(10, 50, 100), bake=1.0)
    steps = [Step(urn(ROLLOUT, f"{name}-rollout"), props)]
    with Callers(client, name, threads=3, max_requests=3000, max_seconds=40) as callers:
        engine = threading.Thread(target=plugin.deploy, args=(steps,))
        engine.start()
        plugin.engine.wait_for(f"{name}: rollout: 10%: passed")
        plugin.engine.wait_for(f"{name}: rollout: 50% to risk_classifier-4")
        assert (
            live_split(client, name) == {"risk_classifier-3": 50, "risk_classifier-4": 50}
            or client.get_endpoint(name)["state"]["config_update"] == "IN_PROGRESS"
        )
        updates_before = config_updates(workspace, name)
        plugin.cancel()
        # before Cancel returned: the last good split (10%) serves again
        assert live_split(client, name) == {"risk_classifier-3": 90, "risk_classifier-4": 10}
        assert client.get_endpoint(name)["state"]["config_update"] == "NOT_UPDATING"
        engine.join(timeout=60)
    assert config_updates(workspace, name) - updates_before <= 1  # one config update puts it back
    message = steps[0].error.details()
    assert message.startswith(f"{name}-rollout: stopped by a cancellation (Ctrl-C); traffic is ")
    assert "last good split: risk_classifier-3 v3 90%, risk_classifier-4 v4 10%" in message
    assert set(callers.statuses) == {200}
    plugin.cancel()  # idempotent: the engine sends Cancel again at the end of every deployment
    assert live_split(client, name) == {"risk_classifier-3": 90, "risk_classifier-4": 10}


def bake_at_50_percent(
    workspace, client, plugin, name: str, bake: float = 2.0, steps: tuple[int, ...] = (10, 50, 100)
) -> tuple[list[Step], threading.Thread]:
    """A rollout to 100% through the plugin, in its bake at 50% (the last good split is the step before)."""
    endpoint_id = client.get_endpoint(name)["id"]
    deployment = [Step(urn(ROLLOUT, f"{name}-rollout"), rollout_props(name, endpoint_id, 100, steps=steps, bake=bake))]
    engine = threading.Thread(target=plugin.deploy, args=(deployment,))
    engine.start()
    plugin.engine.wait_for(f"{name}: rollout: 50% to risk_classifier-4")
    deadline = time.monotonic() + 10
    while (
        live_split(client, name) != {"risk_classifier-3": 50, "risk_classifier-4": 50} and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    return deployment, engine


def test_sigint_during_a_bake_puts_the_last_good_split_back_and_the_plugin_exits_by_itself(workspace, client, plugin):
    # The engine's end of a deployment: SIGINT to the plugin, SIGKILL 5 s later; no Cancel first. How long the
    # stop takes is measured by `make bench ARGS="engine"`; here: it puts traffic back, confirmed, then exits.
    name = new_endpoint(workspace, "sigintbake")
    _, engine = bake_at_50_percent(workspace, client, plugin, name)
    updates_before = config_updates(workspace, name)
    plugin.process.send_signal(2)
    plugin.process.wait(timeout=60)
    engine.join(timeout=30)
    assert plugin.process.returncode == 0  # it exited by itself, not by a kill
    assert live_split(client, name) == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert client.get_endpoint(name)["state"]["config_update"] == "NOT_UPDATING"
    assert config_updates(workspace, name) - updates_before == 1
    plugin._reader.join(timeout=5)
    assert f"servingops: {name}-rollout stopped: traffic is back on the last good split" in "".join(plugin.stderr)


@pytest.mark.engine  # a 10 s bake: run with `make e2e`, which also kills the real CLI mid-rollout
def test_a_plugin_whose_engine_is_gone_puts_the_last_good_split_back_and_exits(workspace, client, plugin):
    # `kill -9` of the CLI: no Cancel, no SIGINT, only an engine that stops answering.
    name = new_endpoint(workspace, "enginegone")
    # A bake longer than the plugin takes to notice (two missed health checks, 2 s apart).
    _, engine = bake_at_50_percent(workspace, client, plugin, name, bake=10.0, steps=(50, 100))
    plugin.engine.stop()
    plugin.process.wait(timeout=30)
    plugin._reader.join(timeout=5)
    assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}, "".join(plugin.stderr)
    assert client.get_endpoint(name)["state"]["config_update"] == "NOT_UPDATING"
    engine.join(timeout=30)


def test_ctrl_c_during_a_config_update_waits_it_out_then_puts_the_last_good_split_back(workspace, client, plugin):
    name = new_endpoint(workspace, "cancelupdate")
    endpoint_id = client.get_endpoint(name)["id"]
    steps = [Step(urn(ROLLOUT, f"{name}-rollout"), rollout_props(name, endpoint_id, 100, bake=0.5))]
    workspace.stick_update(name)  # the first step's config update hangs IN_PROGRESS until released
    with Callers(client, name, threads=2, max_requests=2000, max_seconds=40) as callers:
        engine = threading.Thread(target=plugin.deploy, args=(steps,))
        engine.start()
        plugin.engine.wait_for(f"{name}: rollout: 10% to risk_classifier-4")
        deadline = time.monotonic() + 10
        while client.get_endpoint(name)["state"]["config_update"] != "IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.02)
        threading.Timer(0.5, workspace.release_update, args=(name,)).start()  # the update lands during Cancel
        plugin.cancel()
        assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}
        assert client.get_endpoint(name)["state"]["config_update"] == "NOT_UPDATING"
        engine.join(timeout=60)
    assert (
        "traffic is back on the last good split: risk_classifier-3 v3 100%, risk_classifier-4 v4 0%"
        in steps[0].error.details()
    )
    assert set(callers.statuses) == {200}


def test_ctrl_c_stops_a_readiness_wait_at_once_and_changes_nothing(workspace, client, plugin):
    name = unique("cancelwait")
    workspace.stick_update(name)
    create_endpoint(workspace, name, {3: 100})
    endpoint_id = client.get_endpoint(name)["id"]
    steps = [Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, endpoint_id, {3: 100}, timeout=120))]
    engine = threading.Thread(target=plugin.deploy, args=(steps,))
    engine.start()
    plugin.engine.wait_for(f"{name}: IN_PROGRESS")
    plugin.cancel()
    engine.join(timeout=30)
    assert not engine.is_alive()
    assert steps[0].error.details() == (
        f"{name}-readiness: stopped by a cancellation (Ctrl-C); nothing was changed by it. The next `pulumi up` "
        "starts again from what the endpoint serves then."
    )
    workspace.release_update(name)


def test_the_next_up_after_a_ctrl_c_resumes_from_the_live_split(workspace, client):
    name = new_endpoint(workspace, "resume", share=10)  # where a cancelled rollout left it
    endpoint_id = client.get_endpoint(name)["id"]
    with configured(workspace.url) as plugin:
        [step] = plugin.deploy([Step(urn(ROLLOUT, f"{name}-rollout"), rollout_props(name, endpoint_id, 100))])
    report = step.outputs["report"]
    assert report["started_from"] == 10
    assert [(s["share"], s["verdict"]) for s in report["steps"]] == [(10, "passed"), (50, "passed"), (100, "passed")]
    assert step.outputs["last_good_split"] == {"risk_classifier-3": 0, "risk_classifier-4": 100}


# --- refresh ----------------------------------------------------------------------------------------------


def test_refresh_with_drift_then_update_verifies_again(workspace, client, plugin):
    name = unique("refresh")
    create_endpoint(workspace, name, {3: 100, 4: 0})
    endpoint_id = client.get_endpoint(name)["id"]
    declared = readiness_props(name, endpoint_id, {3: 100, 4: 0})
    resource = urn(READINESS, f"{name}-readiness")
    [created] = plugin.deploy([Step(resource, declared)])
    # someone moves traffic by hand
    put_config(workspace, name, {3: 50, 4: 50})
    wait_until(lambda: live_split(client, name) == {"risk_classifier-3": 50, "risk_classifier-4": 50})
    read_id, outputs, inputs = plugin.read(resource, created.resource_id, created.outputs, declared)
    assert read_id == created.resource_id
    assert outputs["traffic"] == {"risk_classifier-3": 50, "risk_classifier-4": 50}
    assert inputs == declared
    # the next up: pulumi-databricks puts the declared config back, then readiness must verify again
    put_config(workspace, name, {3: 100, 4: 0})
    gets = touched(workspace, name)["gets"]
    step = Step(resource, declared, olds=outputs, old_inputs=inputs, resource_id=read_id)
    plugin.deploy([step])
    assert list(step.diff.diffs) == ["traffic"]
    assert step.error is None and step.outputs["verified_traffic"] == {"risk_classifier-3": 100, "risk_classifier-4": 0}
    assert touched(workspace, name)["gets"] > gets


def test_refresh_of_an_endpoint_deleted_out_of_band_reads_as_gone(workspace, client, plugin):
    name = unique("refreshgone")
    create_endpoint(workspace, name, {3: 100})
    endpoint_id = client.get_endpoint(name)["id"]
    declared = readiness_props(name, endpoint_id, {3: 100}, example=None)
    [created] = plugin.deploy([Step(urn(READINESS, f"{name}-readiness"), declared)])
    workspace.delete_out_of_band(name)
    read_id, _, _ = plugin.read(created.urn, created.resource_id, created.outputs, declared)
    assert read_id == ""


def test_refresh_of_a_rollout_with_traffic_moved_by_hand_makes_the_next_up_run_it_again(workspace, client, plugin):
    name = new_endpoint(workspace, "rolldrift")
    endpoint_id = client.get_endpoint(name)["id"]
    declared = rollout_props(name, endpoint_id, 10)
    [created] = plugin.deploy([Step(urn(ROLLOUT, f"{name}-rollout"), declared)])
    put_config(workspace, name, {3: 60, 4: 40})
    wait_until(lambda: live_split(client, name) == {"risk_classifier-3": 60, "risk_classifier-4": 40})
    _, outputs, inputs = plugin.read(created.urn, created.resource_id, created.outputs, declared)
    assert outputs["live_split"] == {"risk_classifier-3": 60, "risk_classifier-4": 40}
    step = Step(created.urn, declared, olds=outputs, old_inputs=inputs, resource_id=created.resource_id)
    plugin.deploy([step])
    assert "target" in step.diff.diffs
    assert step.outputs["report"]["started_from"] == 40
    assert live_split(client, name) == {"risk_classifier-3": 90, "risk_classifier-4": 10}


# --- the workspace away -----------------------------------------------------------------------------------


class Outage:
    """A loopback TCP forwarder in front of the emulator that can refuse connections for a while."""

    def __init__(self, target_url: str):
        host, port = target_url.rsplit("//", 1)[1].split(":")
        self.target = (host, int(port))
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._connections: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self._serve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _serve(self) -> None:
        listener = self._listener

        def accept() -> None:
            while True:
                try:
                    downstream, _ = listener.accept()
                except OSError:
                    return
                upstream = socket.create_connection(self.target)
                self._connections += [downstream, upstream]
                for a, b in ((downstream, upstream), (upstream, downstream)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def refuse_for(self, seconds: float) -> None:
        """Drop every connection and close the port (connections are refused) for `seconds`, then listen again."""
        self._drop()

        def reopen() -> None:
            if not self._closed:
                self._listener = self._listen(self.port)
                self._serve()

        self._timer = threading.Timer(seconds, reopen)
        self._timer.start()

    def _drop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept: the port stops listening
        except OSError:
            pass
        self._listener.close()
        for connection in self._connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass
        self._connections.clear()

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._drop()


def test_a_30_second_outage_within_the_deadline_is_waited_out(workspace, client):
    name = unique("outage")
    workspace.stick_update(name)
    create_endpoint(workspace, name, {3: 100})
    endpoint_id = client.get_endpoint(name)["id"]
    outage = Outage(workspace.url)
    try:
        with configured(outage.url) as plugin:
            steps = [
                Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, endpoint_id, {3: 100}, timeout=120))
            ]
            engine = threading.Thread(target=plugin.deploy, args=(steps,))
            engine.start()
            plugin.engine.wait_for(f"{name}: IN_PROGRESS")
            outage.refuse_for(30)
            threading.Timer(31, workspace.release_update, args=(name,)).start()
            engine.join(timeout=150)
            assert steps[0].error is None, steps[0].error.details()
            assert steps[0].outputs["verified_versions"] == {"risk_classifier-3": "3"}
            assert any("no answer from the workspace (ConnectionError)" in line for line in plugin.engine.lines())
    finally:
        outage.close()


def test_an_outage_past_the_deadline_fails_with_the_last_state(workspace, client):
    name = unique("outagelong")
    workspace.stick_update(name)
    create_endpoint(workspace, name, {3: 100})
    endpoint_id = client.get_endpoint(name)["id"]
    outage = Outage(workspace.url)
    try:
        with configured(outage.url) as plugin:
            steps = [Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, endpoint_id, {3: 100}, timeout=3))]
            engine = threading.Thread(target=plugin.deploy, args=(steps,))
            engine.start()
            plugin.engine.wait_for(f"{name}: IN_PROGRESS")
            outage.refuse_for(60)
            engine.join(timeout=90)
            message = steps[0].error.details()
            assert message.startswith(
                f"endpoint {name} was not ready within 3s (no answer from the workspace (ConnectionError)); it serves "
            )
    finally:
        outage.close()
        workspace.release_update(name)


# --- secrets ----------------------------------------------------------------------------------------------


def test_a_distinctive_secret_in_the_provider_config_appears_nowhere(workspace, client):
    """The token reaches the workspace and nothing else: no response, output, log line, error or stderr."""
    secret = "dapi" + "5ec12e7" * 4 + "beef"
    name = unique("secret")
    create_endpoint(workspace, name, {3: 100})
    endpoint_id = client.get_endpoint(name)["id"]
    plugin = Plugin()
    try:
        plugin.configure({"host": workspace.url, "token": secret, "pollSeconds": POLL_SECONDS}, secret_keys={"token"})
        steps = [Step(urn(READINESS, f"{name}-readiness"), readiness_props(name, endpoint_id, {3: 100}))]
        plugin.deploy(steps)  # the emulator refuses the unknown token: the create fails
        assert steps[0].error is not None
        assert "401" in steps[0].error.details() or "403" in steps[0].error.details()
        with pytest.raises(grpc.RpcError) as refused:  # and a refresh
            plugin.read(steps[0].urn, f"{name}-readiness", steps[0].news, steps[0].news)
        said = everything_said(plugin, steps) + refused.value.details()
    finally:
        said_stderr = plugin.close()
    assert secret not in said
    assert secret not in said_stderr


# --- stacks made by the old dynamic providers -------------------------------------------------------------


def test_the_old_dynamic_resources_are_deleted_without_a_request_to_the_workspace(workspace):
    """First `up` after the move: the engine deletes the old resources through Pulumi's dynamic host."""
    import asyncio
    import os
    import subprocess
    import sys

    from pulumi.runtime import rpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    from tests.engine_driver import PROJECT_DIR

    legacy = json.loads((Path(__file__).parent / "fixtures" / "legacy_dynamic_providers.json").read_text())
    host = subprocess.Popen(
        [sys.executable, "-m", "pulumi.dynamic"],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR), "PULUMI_PROJECT": "databricks-serving"},
    )
    try:
        port = host.stdout.readline().strip()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        before = workspace.counters()["api_calls"]
        for kind, provider in legacy.items():
            props = {"__provider": provider, "endpoint_name": "prod-risk-classifier", "endpoint_id": "abc"}
            struct = asyncio.new_event_loop().run_until_complete(rpc.serialize_properties(props, {}))
            old_urn = f"urn:pulumi:prod::databricks-serving::pulumi-python:dynamic/serving:Endpoint{kind}::x"
            stub.Delete(
                provider_pb2.DeleteRequest(id=f"prod-risk-classifier-{kind}", urn=old_urn, properties=struct),
                timeout=30,
            )
        assert workspace.counters()["api_calls"] == before
        channel.close()
    finally:
        host.terminate()
        host.wait(timeout=10)


# --- helpers ----------------------------------------------------------------------------------------------


def config_updates(workspace, name: str) -> int:
    return workspace.counters()["api_calls"].get("PUT /api/2.0/serving-endpoints/{name}/config", 0)


def put_config(workspace, name: str, versions: dict[int, int]) -> None:
    body = {
        "served_entities": [entity(v) for v in versions],
        "traffic_config": {
            "routes": [
                {"served_entity_name": f"risk_classifier-{v}", "traffic_percentage": share}
                for v, share in versions.items()
            ]
        },
    }
    requests.put(
        f"{workspace.url}/api/2.0/serving-endpoints/{name}/config",
        json=body,
        headers=workspace.headers(DEPLOYER_TOKEN),
        timeout=10,
    ).raise_for_status()


def wait_until(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


# --- e-mail notifications of an existing endpoint -----------------------------------------------------------

NOTIFICATIONS = "servingops:index:EndpointNotifications"


def test_notifications_of_an_existing_endpoint_are_applied_and_reapplied_after_a_change_by_hand(
    workspace, client, plugin
):
    name = unique("notify")
    create_endpoint(workspace, name, {3: 100})
    resource = urn(NOTIFICATIONS, f"{name}-notifications")
    declared = {"endpoint_name": name, "on_update_success": [], "on_update_failure": ["oncall@example.com"]}
    [created] = plugin.deploy([Step(resource, declared)])
    assert created.error is None and created.resource_id == f"{name}-notifications"
    assert client.get_endpoint(name)["email_notifications"] == {"on_update_failure": ["oncall@example.com"]}

    changed = {**declared, "on_update_success": ["team@example.com"]}
    update = Step(resource, changed, olds=created.outputs, old_inputs=declared, resource_id=created.resource_id)
    plugin.deploy([update])
    assert list(update.diff.diffs) == ["on_update_success"]
    assert client.get_endpoint(name)["email_notifications"] == {
        "on_update_success": ["team@example.com"],
        "on_update_failure": ["oncall@example.com"],
    }

    requests.patch(
        f"{workspace.url}/api/2.0/serving-endpoints/{name}/notifications",
        json={"email_notifications": {}},
        headers=workspace.headers(DEPLOYER_TOKEN),
        timeout=10,
    ).raise_for_status()
    _, outputs, inputs = plugin.read(resource, created.resource_id, update.outputs, changed)
    again = Step(resource, changed, olds=outputs, old_inputs=inputs, resource_id=created.resource_id)
    plugin.deploy([again])
    assert set(again.diff.diffs) == {"on_update_success", "on_update_failure"}
    assert client.get_endpoint(name)["email_notifications"]["on_update_success"] == ["team@example.com"]


def test_what_came_in_secret_goes_out_secret(workspace, client, plugin):
    """An input the program marked secret (here the warmup example) stays secret in Check's and Create's answers."""
    from pulumi.runtime.proto import provider_pb2

    from provider import wire

    name = unique("secretflag")
    create_endpoint(workspace, name, {3: 100})
    props = readiness_props(name, client.get_endpoint(name)["id"], {3: 100})
    resource = urn(READINESS, f"{name}-readiness")
    news = wire.encode(props, {"warmup"})
    checked = plugin.stub.Check(provider_pb2.CheckRequest(urn=resource, news=news))
    assert wire.decode(checked.inputs).secret_keys == {"warmup"}
    created = plugin.stub.Create(provider_pb2.CreateRequest(urn=resource, properties=checked.inputs), timeout=120)
    assert wire.decode(created.properties).secret_keys == {"warmup"}
    preview = plugin.stub.Create(provider_pb2.CreateRequest(urn=resource, properties=checked.inputs, preview=True))
    assert wire.decode(preview.properties).secret_keys == {"warmup"}


def test_removing_the_notifications_block_clears_the_endpoints_notifications(workspace, client, plugin):
    name = unique("unnotify")
    create_endpoint(workspace, name, {3: 100})
    resource = urn(NOTIFICATIONS, f"{name}-notifications")
    declared = {"endpoint_name": name, "on_update_success": [], "on_update_failure": ["oncall@example.com"]}
    [created] = plugin.deploy([Step(resource, declared)])
    plugin.delete(resource, created.resource_id, created.outputs)  # the block is gone from the stack file
    assert client.get_endpoint(name).get("email_notifications") in (None, {})
    workspace.delete_out_of_band(name)
    plugin.delete(resource, created.resource_id, created.outputs)  # the endpoint is gone too: nothing to clear


def test_deleting_readiness_or_rollout_sends_nothing(workspace, client, plugin):
    name = new_endpoint(workspace, "delete")
    before = workspace.counters()["api_calls"]
    plugin.delete(urn(READINESS, f"{name}-readiness"), f"{name}-readiness", readiness_props(name, "id", {3: 100}))
    plugin.delete(urn(ROLLOUT, f"{name}-rollout"), f"{name}-rollout", rollout_props(name, "id", 10))
    assert workspace.counters()["api_calls"] == before


DEPLOYMENT = "servingops:index:EndpointDeployment"
MODEL_SERVING = "databricks:index/modelServing:ModelServing"


def test_the_deployment_watch_returns_at_once_and_puts_a_failed_deployments_cause_on_the_endpoints_row(
    workspace, client, plugin
):
    name = f"watched-{uuid.uuid4().hex[:8]}"
    props = {**readiness_props(name, "", {3: 100}), "endpoint_resource": "risk-classifier-endpoint"}
    for key in ("endpoint_id", "warmup", "route_optimized"):
        props.pop(key, None)
    watch = urn(DEPLOYMENT, "risk-classifier-deployment")
    _, outputs = plugin.create(watch, props)
    # Returned while the endpoint does not even exist: no engine step slot is held while pulumi-databricks waits.
    assert client.get_endpoint(name) is None
    assert outputs["outcome"] == "watched while pulumi-databricks deploys it"

    workspace.fail_next_deployment(name, served_entity="risk_classifier-3", message="Container build failed: OOM")
    create_endpoint(workspace, name, {3: 100})  # what pulumi-databricks' Create sends

    plugin.engine.wait_for(f"endpoint {name} cannot serve: served entity risk_classifier-3")
    (line,) = plugin.engine.lines(urn(MODEL_SERVING, "risk-classifier-endpoint"))
    assert "Container build failed: OOM" in line and "last build log lines of risk_classifier-3:" in line


# --- required inputs, and state recorded before they were ---------------------------------------------------


def test_check_over_grpc_names_a_missing_input_and_nothing_is_started(workspace, client, plugin):
    name = new_endpoint(workspace, "missing")
    props = rollout_props(name, client.get_endpoint(name)["id"], 50)
    props.pop("update_timeout_seconds")
    before = touched(workspace, name)
    [step] = plugin.deploy([Step(urn(ROLLOUT, f"{name}-rollout"), props)])
    assert [(f.property, f.reason) for f in step.failures] == [
        ("update_timeout_seconds", "is required: none was sent (components.plugin_resources always sends it)")
    ]
    assert step.outputs is None and touched(workspace, name) == before


def test_a_refresh_reads_readiness_state_recorded_before_warmup_and_route_optimized_were_sent(
    workspace, client, plugin
):
    name = unique("oldstate")
    create_endpoint(workspace, name, {3: 100})
    recorded = readiness_props(name, client.get_endpoint(name)["id"], {3: 100})
    for key in ("warmup", "route_optimized"):
        recorded.pop(key)
    for served in recorded["served_entities"]:
        served.pop("scale_to_zero")
    resource = urn(READINESS, f"{name}-readiness")
    read_id, outputs, inputs = plugin.read(resource, f"{name}-readiness", recorded, recorded)
    assert read_id == f"{name}-readiness"
    assert outputs["live_state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    # No drift (what was recorded still serves): the record is kept as it is, not replaced by the live entities.
    assert outputs["served_entities"] == recorded["served_entities"]
    assert inputs == recorded
