"""Preflight and alias resolution through the `servingops` plugin, started as the engine starts it and driven
in the engine's call order (tests/engine_driver.py): a preview's Create/Update reads the workspace (GETs only)
and fails with every finding; without credentials it says so once and goes on; Invoke resolves aliases."""

from __future__ import annotations

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from provider import wire
from provider.implementations import PREFLIGHT_SKIPPED
from tests.engine_driver import Plugin, everything_said, urn
from tests.support import DEPLOYER_TOKEN, KEY, PREFLIGHT, RISK, endpoint_checks, preflight_props, preflight_step, seeded

pytestmark = pytest.mark.slow

NOBODY = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def objects(workspace):
    return seeded(workspace)


@pytest.fixture
def plugin(objects):
    plugin = Plugin()
    plugin.configure({"host": objects.url, "token": DEPLOYER_TOKEN}, secret_keys={"token"})
    yield plugin
    plugin.close()


@pytest.fixture
def no_credentials(tmp_path):
    """The plugin with no provider configuration and nothing for unified authentication to find."""
    plugin = Plugin(env={"DATABRICKS_CONFIG_FILE": str(tmp_path / "none.cfg"), "HOME": str(tmp_path)})
    yield plugin
    plugin.close()


def writes(objects) -> dict:
    """Every call the workspace counted that was not a GET (the registry's read-only POST aside)."""
    return {call: n for call, n in objects.counters()["api_calls"].items() if not call.startswith("GET ")}


def test_a_preview_with_a_missing_version_fails_with_every_finding_and_changes_nothing(plugin, objects):
    step = preflight_step(preflight_props(("3", "9"), principal=NOBODY, schema="nowhere"))
    plugin.deploy([step], preview=True)
    assert step.failures == []  # Check stays pure: the finding comes from the preview's Create
    message = step.error.details()
    assert message.startswith("preflight of endpoint risk-classifier: 3 problems in the workspace")
    assert f"{KEY}.served_models[1].version: version 9 of {RISK} does not exist" in message
    assert f"{KEY}.access.query_service_principal: no service principal with application id {NOBODY}" in message
    assert f"{KEY}.inference_table.schema: schema main.nowhere does not exist" in message
    assert "Traceback" not in message
    assert writes(objects) == {}


def test_a_preview_whose_needs_exist_passes_with_gets_only(plugin, objects):
    step = preflight_step(preflight_props())
    plugin.deploy([step], preview=True)
    assert step.error is None and step.outputs["outcome"] == "passed"
    calls = objects.counters()["api_calls"]
    assert "GET /api/2.1/unity-catalog/models/{full_name}/versions/{version}" in calls
    assert writes(objects) == {}


def test_the_update_fails_the_same_way_before_anything_changes(plugin, objects):
    objects.add_object("model-versions", model=RISK, version="5", status="PENDING_REGISTRATION")
    step = preflight_step(preflight_props(("3", "5")))
    plugin.deploy([step], preview=False)
    assert f"{KEY}.served_models[1].version: version 5 of {RISK} is PENDING_REGISTRATION, not READY" in (
        step.error.details()
    )
    assert writes(objects) == {}


def test_an_unchanged_preflight_is_not_checked_again_and_a_changed_version_is(plugin, objects):
    recorded = {**preflight_props(), "outcome": "passed"}
    same = preflight_step(preflight_props(), olds=recorded)
    plugin.deploy([same], preview=True)
    assert same.diff.changes == provider_pb2.DiffResponse.DIFF_NONE
    moved = preflight_step(preflight_props(("3", "9")), olds=recorded)
    plugin.deploy([moved], preview=True)
    assert list(moved.diff.diffs) == ["endpoints.risk-classifier.served_entities"]
    assert "version 9 of" in moved.error.details()


def test_without_credentials_preflight_is_skipped_and_said_once(no_credentials):
    steps = [preflight_step(preflight_props(("9",)), name=f"ep{i}-preflight") for i in range(3)]
    no_credentials.deploy(steps, preview=True)
    assert [step.error for step in steps] == [None, None, None]
    assert [step.outputs["outcome"] for step in steps] == [PREFLIGHT_SKIPPED] * 3
    said = [line for line in no_credentials.engine.lines() if "no workspace credentials" in line]
    assert len(said) == 1 and "preflight skipped" in said[0]


def test_a_failed_preflight_never_shows_the_token(plugin, objects):
    step = preflight_step(preflight_props(("9",)))
    plugin.deploy([step], preview=True)
    assert DEPLOYER_TOKEN not in everything_said(plugin, [step])


# --- alias resolution (Invoke) --------------------------------------------------------------------------


def invoke(plugin: Plugin, args: dict) -> dict:
    response = plugin.stub.Invoke(
        provider_pb2.InvokeRequest(tok="servingops:index:resolveModelVersion", args=wire.encode(args))
    )
    return wire.decode(getattr(response, "return")).plain


def test_invoke_resolves_an_alias_to_the_version_it_points_at_now(plugin, objects):
    assert invoke(plugin, {"model": RISK, "alias": "@champion"}) == {"version": "4"}
    objects.add_object("aliases", model=RISK, alias="champion", version="3")
    assert invoke(plugin, {"model": RISK, "alias": "@champion"}) == {"version": "3"}
    assert "has no alias @gone" in invoke(plugin, {"model": RISK, "alias": "@gone"})["unresolved"]
    assert invoke(plugin, {"model": "RiskClassifier", "alias": "@Production"}) == {"version": "2"}
    assert writes(objects) == {"POST /api/2.0/mlflow/registered-models/get-latest-versions": 1}


def test_invoke_without_credentials_answers_unresolved(no_credentials):
    assert invoke(no_credentials, {"model": RISK, "alias": "@champion"}) == {"unresolved": "no credentials"}


def test_invoke_of_an_unknown_function_is_refused_by_name(plugin):
    with pytest.raises(grpc.RpcError) as error:
        plugin.stub.Invoke(provider_pb2.InvokeRequest(tok="servingops:index:nothing", args=wire.encode({})))
    assert "servingops has no function 'servingops:index:nothing'" in error.value.details()


def test_check_stays_pure_even_for_a_version_that_does_not_exist(plugin, objects):
    before = objects.counters()["api_calls"]
    checked, failures = plugin.check(urn(PREFLIGHT, "preflight"), preflight_props(("9",)))
    assert failures == []
    assert checked["endpoints"]["risk-classifier"]["served_entities"][0]["entity_version"] == "9"
    assert objects.counters()["api_calls"] == before


def test_check_refuses_checks_without_their_key_paths(plugin):
    without = {**endpoint_checks(), "manager_groups": [{"value": "ml-platform-oncall"}]}
    props = {"endpoints": {"risk-classifier": without}}
    _, failures = plugin.check(urn(PREFLIGHT, "preflight"), props)
    assert [(f.property, f.reason) for f in failures] == [
        (
            "endpoints.risk-classifier.manager_groups",
            "must be a list of objects, each with its stack key path (key_path)",
        )
    ]


def test_one_preflight_reports_every_endpoints_findings_at_once(plugin, objects):
    props = {
        "endpoints": {
            "risk-classifier": endpoint_checks(("3", "9")),
            "fraud-scorer": {**endpoint_checks(("7",)), "endpoint_name": "fraud-scorer"},
        }
    }
    step = preflight_step(props)
    plugin.deploy([step], preview=True)
    message = step.error.details()
    assert "preflight of endpoint risk-classifier: 1 problem in the workspace" in message
    assert "preflight of endpoint fraud-scorer: 1 problem in the workspace" in message
    assert writes(objects) == {}
