"""The deployment watch: why a deployment by pulumi-databricks failed, read while it runs, against the emulator.

pulumi-databricks reports a failed deployment only as `failed to reach NOT_UPDATING, got UPDATE_FAILED` and
deletes an endpoint whose creation failed; the watch, running beside it, names the entity, its message and
the build log first.
"""

from __future__ import annotations

import threading
import time

import pytest

from serving.verification import ReadinessError, watch_deployment
from serving.workspace import ServingClient
from tests.support import create_endpoint, deployer_client, expectation, unique


@pytest.fixture(scope="module")
def client(workspace) -> ServingClient:
    return deployer_client(workspace)


def watch(client, name: str, versions: dict[int, int], grace: float = 2.0) -> str:
    return watch_deployment(client, expectation(name, versions, example=None, timeout=20.0), grace=grace, interval=0.1)


def test_a_create_that_deploys_is_seen_deployed(workspace, client):
    name = unique("watch-ok")
    threading.Timer(0.3, create_endpoint, args=(workspace, name, {3: 100})).start()  # the provider's POST, later

    assert watch(client, name, {3: 100}) == "deployed: risk_classifier-3 v3 100%"


def test_a_failed_deployment_names_the_entity_its_message_and_the_build_log(workspace, client):
    name = unique("watch-fail")
    workspace.fail_next_deployment(
        name,
        served_entity="risk_classifier-4",
        message="Container build failed: pip could not resolve scikit-learn==9.9",
    )
    create_endpoint(workspace, name, {3: 90, 4: 10})

    with pytest.raises(ReadinessError) as caught:
        watch(client, name, {3: 90, 4: 10})

    message = str(caught.value)
    assert message.startswith(
        f"endpoint {name} cannot serve: served entity risk_classifier-4 "
        "(main.risk.risk_classifier v4) DEPLOYMENT_FAILED: "
    )
    assert "pip could not resolve scikit-learn==9.9" in message
    assert "last build log lines of risk_classifier-4:" in message


def test_an_endpoint_deleted_while_it_deployed_says_so(workspace, client):
    name = unique("watch-gone")
    workspace.stick_update(name)  # the create stays IN_PROGRESS until the endpoint is deleted
    create_endpoint(workspace, name, {3: 100})
    threading.Timer(0.5, workspace.delete_out_of_band, args=(name,)).start()

    with pytest.raises(ReadinessError) as caught:
        watch(client, name, {3: 100})

    assert f"endpoint {name} was deleted while it deployed" in str(caught.value)


def test_no_deployment_of_the_declared_entities_within_the_grace_ends_quietly(workspace, client):
    # The ModelServing sent nothing (it failed before, or the change was elsewhere): its own row says why.
    name = unique("watch-none")
    create_endpoint(workspace, name, {3: 100})
    time.sleep(0.3)

    assert watch(client, name, {4: 100}, grace=0.5) == "no deployment of the declared entities seen in 0.5s"


def test_an_endpoint_that_never_appears_ends_quietly_after_the_grace(client):
    assert watch(client, unique("watch-never"), {3: 100}, grace=0.3).endswith("did not appear within 0.3s")
