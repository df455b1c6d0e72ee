"""Scoring requests: input formats, schema checks, deterministic predictions and traffic routing."""

from __future__ import annotations

import collections
import json

import pytest
import requests

from emulator.testing import running_emulator
from tests.emulator.support import COLUMNS, FAST, ROW, WorkspaceApi, entity, routes, serving_version_one

SECOND = {"amount": 10.0, "age": 30, "income": 900.0}


@pytest.fixture(scope="module")
def ready():
    """One endpoint serving version 1, shared by the read-only tests of this module."""
    with serving_version_one() as api:
        yield api


def _predictions(response) -> list[float]:
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": [[ROW[c] for c in COLUMNS], [SECOND[c] for c in COLUMNS]]}},
        {
            "dataframe_split": {
                "index": [0, 1],
                "columns": COLUMNS,
                "data": [[ROW[c] for c in COLUMNS], [SECOND[c] for c in COLUMNS]],
            }
        },
        {"dataframe_records": [ROW, SECOND]},
        {"instances": [ROW, SECOND]},
        {"instances": [[ROW[c] for c in COLUMNS], [SECOND[c] for c in COLUMNS]]},
        {"inputs": [ROW, SECOND]},
        {"inputs": {c: [ROW[c], SECOND[c]] for c in COLUMNS}},
        {"dataframe_records": [ROW, SECOND], "params": {"threshold": 0.5}},
    ],
    ids=[
        "split",
        "split-with-index",
        "records",
        "instances",
        "instances-positional",
        "inputs",
        "inputs-columnar",
        "with-params",
    ],
)
def test_every_input_format_gives_the_same_predictions(ready, body):
    expected = _predictions(ready.invoke("ep", {"dataframe_records": [ROW, SECOND]}))

    assert _predictions(ready.invoke("ep", body)) == expected
    assert len(expected) == 2


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "exactly one of the fields"),
        ({"params": {}}, "exactly one of the fields"),
        ({"dataframe_records": [ROW], "instances": [ROW]}, "found ['dataframe_records', 'instances']"),
        ({"dataframe_records": [ROW], "extra": 1}, "Unexpected fields in the request: ['extra']"),
        ({"dataframe_records": [ROW], "params": [1]}, "'params' must be a JSON object"),
        ([ROW], "must be a JSON object"),
        ({"dataframe_records": []}, "holds no rows"),
        ({"dataframe_split": {"columns": COLUMNS, "data": [[1, 2]]}}, "row 0 has 2 values for 3 columns"),
    ],
    ids=[
        "empty",
        "params-only",
        "two-inputs",
        "extra-field",
        "params-not-object",
        "not-object",
        "no-rows",
        "short-row",
    ],
)
def test_malformed_input_is_400_bad_request(ready, body, fragment):
    response = ready.invoke("ep", body)

    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert fragment in response.json()["message"]


def test_invalid_json_is_400_bad_request(ready):
    response = ready.invoke("ep", data=b"{not json", headers={"Content-Type": "application/json"})

    assert (response.status_code, response.json()["error_code"]) == (400, "BAD_REQUEST")


def test_missing_column_is_400_naming_it(ready):
    response = ready.invoke("ep", {"dataframe_records": [{"amount": 1.0, "age": 2}]})

    assert response.status_code == 400
    assert "Model is missing inputs ['income']." in response.json()["message"]


def test_extra_column_is_ignored_as_mlflow_ignores_it(ready):
    with_zip = ready.invoke("ep", {"dataframe_records": [{**ROW, "zip": 12345}]})

    assert _predictions(with_zip) == _predictions(ready.invoke("ep", {"dataframe_records": [ROW]}))


def test_extra_column_is_named_when_a_column_is_missing(ready):
    response = ready.invoke("ep", {"dataframe_records": [{"amount": 1.0, "age": 2, "zip": 12345}]})

    assert response.status_code == 400
    message = response.json()["message"]
    assert "Model is missing inputs ['income']. Note that there were extra inputs: ['zip']" in message


def test_text_for_a_long_column_is_400_naming_the_column(ready):
    response = ready.invoke("ep", {"dataframe_records": [{**ROW, "age": "forty"}]})

    assert response.status_code == 400
    assert (
        "Incompatible input types for column age. Can not safely convert object to int64." in response.json()["message"]
    )


def test_body_over_the_size_limit_is_400():
    with running_emulator(**FAST, max_request_bytes=2000) as emu:
        api = WorkspaceApi(emu)
        api.create_ready("ep", [entity("1")])

        response = api.invoke("ep", {"dataframe_records": [ROW] * 100})

        assert response.status_code == 400
        assert "exceeds the limit of 2000 bytes" in response.json()["message"]


def test_predictions_are_deterministic_per_version_and_row(ready):
    first = _predictions(ready.invoke("ep", {"dataframe_records": [ROW, ROW, SECOND]}))

    assert first[0] == first[1] != first[2]
    assert _predictions(ready.invoke("ep", {"dataframe_records": [ROW, ROW, SECOND]})) == first


def test_different_versions_disagree_and_same_as_versions_agree(api):
    api.create_ready(
        "ep", [entity("2", name="v2"), entity("3", name="v3"), entity("4", name="v4")], routes(v2=100, v3=0, v4=0)
    )

    by_version = {v: _predictions(api.invoke("ep", served=v)) for v in ("v2", "v3", "v4")}

    assert by_version["v2"] != by_version["v3"]
    assert by_version["v3"] == by_version["v4"]  # version 4 is same_as 3 in the default registry


def test_answer_names_the_served_entity_in_a_header(ready):
    assert ready.invoke("ep").headers["served-model-name"] == "risk_classifier-1"


def test_random_routing_follows_the_traffic_split_within_tolerance(api):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=80, canary=20))

    served = collections.Counter(api.invoke("ep").headers["served-model-name"] for _ in range(400))

    assert served.keys() == {"stable", "canary"}
    assert abs(served["canary"] / 400 - 0.20) < 0.06


def test_entity_with_zero_traffic_never_answers_routed_requests(api):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="shadow")], routes(stable=100, shadow=0))

    served = {api.invoke("ep").headers["served-model-name"] for _ in range(50)}

    assert served == {"stable"}


def test_round_robin_routing_gives_exact_shares():
    with running_emulator(**FAST, routing="round_robin") as emu:
        api = WorkspaceApi(emu)
        api.create_ready("ep", [entity("1", name="a"), entity("2", name="b")], routes(a=75, b=25))

        served = [api.invoke("ep").headers["served-model-name"] for _ in range(8)]

        assert collections.Counter(served) == {"a": 6, "b": 2}
        assert served[:4].count("b") == 1  # interleaved, not in runs


def test_served_model_path_reaches_an_entity_with_zero_traffic(api):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="shadow")], routes(stable=100, shadow=0))

    response = api.invoke("ep", served="shadow")

    assert response.status_code == 200
    assert response.headers["served-model-name"] == "shadow"


def test_served_model_path_to_an_unknown_entity_is_404(ready):
    response = ready.invoke("ep", served="ghost")

    assert (response.status_code, response.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_each_entity_checks_its_own_model_schema(api):
    fraud = entity("1", model="main.fraud.fraud_scorer", name="fraud")
    api.create_ready("ep", [entity("1", name="risk"), fraud], routes(risk=50, fraud=50))

    response = api.invoke("ep", {"dataframe_records": [ROW]}, served="fraud")

    assert response.status_code == 400
    assert "Model is missing inputs ['merchant_risk', 'hour']" in response.json()["message"]


def test_invocation_body_is_json_with_predictions_list(ready):
    response = requests.post(
        f"{ready.url}/serving-endpoints/ep/invocations",
        headers=ready.session.headers,
        data=json.dumps({"instances": [ROW]}),
        timeout=10,
    )

    assert response.headers["content-type"] == "application/json"
    assert list(response.json()) == ["predictions"]
