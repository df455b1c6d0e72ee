"""Warmup and parity examples keep their JSON types from the stack file to the workspace.

The engine carries every number as a double; the program sends each body as JSON text and the plugin
sends that text's values. Driven over the plugin's gRPC interface, as the engine drives it, against the
emulator, whose default risk classifier types `age` as `long` (and refuses `42.0` there, as MLflow does).
"""

from __future__ import annotations

import json

import grpc
import pytest

from provider.implementations import KINDS, plan_of
from serving.workspace import ServingClient
from tests.engine_driver import READINESS, ROLLOUT, Step, urn
from tests.support import (
    EXAMPLE,
    configured,
    deployer_client,
    new_endpoint,
    readiness_props,
    rollout_props,
)

pytestmark = pytest.mark.slow

EXAMPLE_TEXT = json.dumps(EXAMPLE)
FLOAT_AGE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42.0, 58000.0]]}}


@pytest.fixture(scope="module")
def client(workspace) -> ServingClient:
    return deployer_client(workspace)


@pytest.fixture
def plugin(workspace):
    plugin = configured(workspace.url)
    yield plugin
    plugin.close()


def bodies(workspace, name: str) -> list[str]:
    """The scoring request bodies the emulator received for endpoint `name`, as JSON text."""
    return workspace.counters()["request_bodies"].get(name, [])


def legacy(props: dict) -> dict:
    """Readiness inputs as plugins before JSON-text examples recorded them: the body as a structure."""
    warmup = dict(props["warmup"])
    warmup["input_example"] = json.loads(warmup.pop("input_example_json"))
    return {**props, "warmup": warmup}


def test_an_integer_in_the_warmup_example_reaches_the_workspace_as_an_integer(workspace, client, plugin):
    name = new_endpoint(workspace, "intwarm", share=10)
    props = readiness_props(name, client.get_endpoint(name)["id"], {3: 90, 4: 10})
    assert props["warmup"]["input_example_json"] == EXAMPLE_TEXT

    [step] = plugin.deploy([Step(urn(READINESS, f"{name}-readiness"), props)])

    assert step.error is None
    sent = bodies(workspace, name)
    assert sent and set(sent) == {EXAMPLE_TEXT}  # byte for byte as the program wrote it
    assert "[[1200.0, 42, 58000.0]]" in sent[0]


def test_the_structure_older_programs_sent_reaches_the_workspace_as_doubles_and_a_long_column_refuses_it(
    workspace, client, plugin
):
    """What the issue reported: through the engine, the structure's `42` became `42.0`."""
    name = new_endpoint(workspace, "floatwarm")
    props = legacy(readiness_props(name, client.get_endpoint(name)["id"], {3: 100, 4: 0}))

    [step] = plugin.deploy([Step(urn(READINESS, f"{name}-readiness"), props)])

    assert isinstance(step.error, grpc.RpcError)
    assert "Incompatible input types for column age. Can not safely convert float64 to int64." in (step.error.details())
    assert set(bodies(workspace, name)) == {json.dumps(FLOAT_AGE)}


def test_parity_examples_reach_both_entities_as_written(workspace, client, plugin):
    name = new_endpoint(workspace, "intparity")
    props = rollout_props(name, client.get_endpoint(name)["id"], 10, steps=(10,), bake=0.3)
    assert props["examples_json"] == [EXAMPLE_TEXT]

    [step] = plugin.deploy([Step(urn(ROLLOUT, f"{name}-rollout"), props)])

    assert step.error is None, step.error
    assert step.outputs["report"]["parity"]["verdict"] == "passed"
    assert set(bodies(workspace, name)) == {EXAMPLE_TEXT}


def test_a_check_names_a_warmup_example_that_is_not_json_text():
    props = readiness_props("risk", "id-1", {3: 100})
    props["warmup"]["input_example_json"] = "{dataframe_split: 1"
    failures = {failure.property: failure.reason for failure in KINDS[READINESS].failures(props)}
    assert list(failures) == ["warmup.input_example_json"]
    assert failures["warmup.input_example_json"].startswith("warmup.input_example_json is not JSON text")


# --- state recorded by older plugins ------------------------------------------------------------------


def test_a_recorded_structure_of_equal_values_is_no_change_so_upgrading_alone_plans_nothing(plugin):
    news = readiness_props("risk", "id-1", {3: 100})
    step = Step(
        urn(READINESS, "risk-readiness"), news, olds=legacy(news), old_inputs=legacy(news), resource_id="risk-readiness"
    )

    plugin.deploy([step], preview=True)

    assert list(step.diff.diffs) == []


def test_a_recorded_structure_of_other_values_is_a_change_of_the_warmup():
    news = readiness_props("risk", "id-1", {3: 100})
    olds = legacy(readiness_props("risk", "id-1", {3: 100}, example=FLOAT_AGE | {"params": {"t": 1}}))
    assert KINDS[READINESS].changed(olds, news) == ["warmup"]


def test_between_two_texts_an_integer_that_becomes_a_float_is_a_change():
    olds = readiness_props("risk", "id-1", {3: 100})
    news = readiness_props("risk", "id-1", {3: 100}, example=FLOAT_AGE)
    assert KINDS[READINESS].changed(olds, news) == ["warmup"]
    rollout_olds = rollout_props("risk", "id-1", 10)
    rollout_news = {**rollout_olds, "examples_json": [json.dumps(FLOAT_AGE)]}
    assert KINDS[ROLLOUT].changed(rollout_olds, rollout_news) == ["examples_json"]


def test_recorded_parity_examples_and_expected_predictions_are_read_in_either_shape():
    news = {**rollout_props("risk", "id-1", 10), "expected_predictions_json": ["[0.5]"]}
    olds = {key: value for key, value in news.items() if not key.endswith("_json")}
    olds.update(examples=[EXAMPLE], expected_predictions=[[0.5]])

    assert KINDS[ROLLOUT].changed(olds, news) == []
    assert plan_of(olds).examples == plan_of(news).examples == (EXAMPLE,)
    assert plan_of(olds).expected_predictions == plan_of(news).expected_predictions == ([0.5],)


# --- numbers the serving API takes as integers --------------------------------------------------------


def test_counts_and_versions_the_engine_made_doubles_are_sent_as_integers():
    entity = {
        "name": "risk_classifier-4",
        "entity_name": "main.risk.risk_classifier",
        "entity_version": 4.0,
        "workload_type": "CPU",
        "min_provisioned_concurrency": 4.0,
        "max_provisioned_concurrency": 8.0,
    }
    props = {
        **rollout_props("risk", "id-1", 10),
        "served_entities": [entity],
        "target": {"risk_classifier-3": 90.0, "risk_classifier-4": 10.0},
        "steps": [10.0],
    }

    plan = plan_of(props)

    [sent] = plan.served_entities
    assert (sent["entity_version"], sent["min_provisioned_concurrency"], sent["max_provisioned_concurrency"]) == (
        "4",
        4,
        8,
    )
    assert all(
        type(value) is int
        for value in (
            *plan.target.values(),
            *plan.steps,
            *[sent["min_provisioned_concurrency"], sent["max_provisioned_concurrency"]],
        )
    )
    assert json.dumps(plan.split(10)) == '{"risk_classifier-3": 90, "risk_classifier-4": 10}'
