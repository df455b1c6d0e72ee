"""The review shows each warmup and parity request body exactly as it will be sent, JSON types kept."""

from __future__ import annotations

import copy
import json

from review.diff import diff_summaries, render_diff
from review.engine import run_program
from review.summary import summarize_run
from serving.payloads import decode

ENDPOINTS_KEY = "databricks-serving:endpoints"
WARMUP = "warmup.input_example_json"


def fields_of(document: dict, stack: str = "prod") -> dict[str, dict]:
    return {summary.name: summary.fields for summary in summarize_run(run_program(stack, document=document).resources)}


def test_the_warmup_body_is_shown_as_the_text_sent_with_integers_as_integers(stack_documents):
    shown = fields_of(stack_documents["prod"])["risk-classifier-readiness"][WARMUP]

    assert shown == (
        '{"dataframe_split": {"columns": ["amount", "age", "income"], '
        '"data": [[1200.0, 42, 58000.0], [250.0, 23, 21000.0]]}}'
    )
    # What the plugin sends: the text's values serialised as ServingClient serialises a body.
    assert json.dumps(decode(shown, WARMUP)) == shown


def test_each_parity_example_is_shown_as_its_own_field_with_the_text_sent(stack_documents):
    fields = fields_of(stack_documents["prod"])["risk-classifier-rollout"]

    assert fields["examples_json[0]"] == fields_of(stack_documents["prod"])["risk-classifier-readiness"][WARMUP]
    assert "examples_json" not in fields


def test_an_integer_written_as_a_float_shows_as_a_change_of_the_body(stack_documents):
    document = copy.deepcopy(stack_documents["prod"])
    warmup = document["config"][ENDPOINTS_KEY]["risk-classifier"]["readiness"]["warmup"]
    warmup["input_example"]["dataframe_split"]["data"][0][1] = 42.0

    changes = diff_summaries(
        summarize_run(run_program("prod", document=stack_documents["prod"]).resources),
        summarize_run(run_program("prod", document=document).resources),
    )

    text = render_diff(changes, "HEAD", "working tree")
    assert f'{WARMUP}: {{"dataframe_split": {{"columns": ["amount", "age", "income"], "data": [[1200.0, 42, ' in text
    assert '-> {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42.0, 58000.0]' in text


def test_a_body_written_in_another_key_order_is_the_same_text(stack_documents):
    document = copy.deepcopy(stack_documents["prod"])
    warmup = document["config"][ENDPOINTS_KEY]["fraud-scorer"]["readiness"]["warmup"]
    [record] = warmup["input_example"]["dataframe_records"]
    warmup["input_example"]["dataframe_records"] = [dict(reversed(list(record.items())))]

    reordered = fields_of(document)["fraud-scorer-readiness"][WARMUP]
    assert reordered == fields_of(stack_documents["prod"])["fraud-scorer-readiness"][WARMUP]
    assert reordered == '{"dataframe_records": [{"amount": 89.9, "hour": 14, "merchant_risk": 0.12}]}'
