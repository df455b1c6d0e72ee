"""A model version's MLflow signature, enforced on scoring requests with MLflow's rules, status and words."""

from __future__ import annotations

import pytest

from emulator.settings import ModelVersionSpec, RegisteredModelSpec
from emulator.signature import SignatureError, enforce, enforce_column
from emulator.testing import running_emulator
from tests.emulator.support import COLUMNS, FAST, ROW, WorkspaceApi, entity, routes, serving_version_one

FLOAT_AGE = {**ROW, "age": 41.0}
LONG_REFUSED = "Incompatible input types for column age. Can not safely convert float64 to int64."


@pytest.fixture(scope="module")
def ready():
    """The default risk classifier (signature amount: double, age: long, income: double), version 1 serving."""
    with serving_version_one() as api:
        yield api


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": [[FLOAT_AGE[c] for c in COLUMNS]]}},
        {"dataframe_records": [FLOAT_AGE]},
        {"instances": [FLOAT_AGE]},
        {"instances": [[FLOAT_AGE[c] for c in COLUMNS]]},
        {"inputs": [FLOAT_AGE]},
        {"inputs": {c: [FLOAT_AGE[c]] for c in COLUMNS}},
    ],
    ids=["split", "records", "instances", "instances-positional", "inputs", "inputs-columnar"],
)
def test_a_float_for_a_long_column_is_refused_with_mlflows_message_in_every_input_format(ready, body):
    response = ready.invoke("ep", body)

    assert response.status_code == 400
    error = response.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert error["message"].startswith("Failed to predict data '")
    assert error["message"].endswith(
        "with schema '['amount': double (required), 'age': long (required), 'income': double (required)]'. "
        f"Error: {LONG_REFUSED}"
    )


def test_the_same_row_with_an_integer_for_the_long_column_is_answered(ready):
    response = ready.invoke("ep", {"dataframe_records": [ROW]})

    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def test_an_integer_for_a_double_column_is_refused_as_mlflow_refuses_int64_to_float64(ready):
    response = ready.invoke("ep", {"dataframe_records": [{**ROW, "amount": 120}]})

    assert response.status_code == 400
    assert response.json()["message"].endswith(
        "Incompatible input types for column amount. Can not safely convert int64 to float64."
    )


def test_the_emulator_keeps_the_bodies_it_was_sent_with_their_json_types(ready):
    ready.invoke("ep", {"dataframe_records": [ROW]})
    ready.invoke("ep", {"dataframe_records": [FLOAT_AGE]})

    bodies = ready.emu.counters()["request_bodies"]["ep"]
    assert bodies[-2:] == [
        '{"dataframe_records": [{"amount": 120.0, "age": 41, "income": 5200.0}]}',
        '{"dataframe_records": [{"amount": 120.0, "age": 41.0, "income": 5200.0}]}',
    ]


def test_a_version_with_its_own_signature_is_enforced_with_it():
    models = {
        "main.risk.risk_classifier": RegisteredModelSpec(
            columns=("amount", "age", "income"),
            signature={"amount": "double", "age": "long", "income": "double"},
            versions={
                "1": ModelVersionSpec(),
                "2": ModelVersionSpec(signature={"amount": "double", "age": "double", "income": "double"}),
            },
        )
    }
    with running_emulator(**FAST, models=models) as emu:
        api = WorkspaceApi(emu)
        api.create_ready("ep", [entity("1", name="one"), entity("2", name="two")], routes(one=50, two=50))

        assert api.invoke("ep", {"dataframe_records": [FLOAT_AGE]}, served="two").status_code == 200
        assert api.invoke("ep", {"dataframe_records": [FLOAT_AGE]}, served="one").status_code == 400


def test_a_signature_naming_an_unknown_type_is_refused_in_the_settings():
    with pytest.raises(ValueError, match="are not MLflow types"):
        RegisteredModelSpec(columns=("age",), signature={"age": "int"})


@pytest.mark.parametrize(
    "values, mlflow_type",
    [
        ([41], "long"),
        ([41, 42], "long"),
        ([1.5], "double"),
        ([1.5, 2], "double"),
        ([True], "boolean"),
        (["a"], "string"),
        ([None, "a"], "string"),
        (["2026-01-02T03:04:05"], "datetime"),
        ([True, None], "boolean"),
    ],
    ids=str,
)
def test_mlflow_accepts(values, mlflow_type):
    enforce_column("c", values, mlflow_type)


@pytest.mark.parametrize(
    "values, mlflow_type, message",
    [
        ([41.0], "long", "Can not safely convert float64 to int64."),
        ([41], "integer", "Can not safely convert int64 to int32."),
        ([1.5], "float", "Can not safely convert float64 to float32."),
        ([41], "double", "Can not safely convert int64 to float64."),
        ([True], "long", "Can not safely convert bool to int64."),
        ([1, True], "long", "Can not safely convert object to int64."),
        ([41], "string", "Can not safely convert int64 to <U0."),
        (["soon"], "datetime", "Failed to convert column c from type object to datetime."),
    ],
    ids=str,
)
def test_mlflow_refuses(values, mlflow_type, message):
    with pytest.raises(SignatureError) as refused:
        enforce_column("c", values, mlflow_type)
    assert str(refused.value).endswith(message)


def test_whole_numbers_with_a_gap_in_a_long_column_get_mlflows_hint_about_missing_values():
    with pytest.raises(SignatureError, match="Hint: the type mismatch is likely caused by missing values"):
        enforce({"age": "long"}, [{"age": 41}, {"age": None}])


def test_a_column_missing_from_every_row_is_named_as_mlflow_names_it():
    with pytest.raises(SignatureError) as refused:
        enforce({"amount": "double", "age": "long"}, [{"amount": 1.0, "zip": 1}])
    assert str(refused.value) == "Model is missing inputs ['age']. Note that there were extra inputs: ['zip']"
