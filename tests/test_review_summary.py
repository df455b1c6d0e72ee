"""The review's first lines: one per endpoint, saying in domain terms what a change does."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from review.changes import change_lines, declared_lines
from review.engine import run_program
from review.summary import summarize_run
from tests.support import endpoint_summaries, review

ENDPOINTS_KEY = "databricks-serving:endpoints"


def summaries_of(document: dict[str, Any]):
    return summarize_run(run_program("prod", document=document).resources)


@pytest.fixture(scope="module")
def prod_base(stack_documents):
    return summaries_of(stack_documents["prod"])


def endpoints(document: dict[str, Any]) -> dict[str, Any]:
    return document["config"][ENDPOINTS_KEY]


def lines_after(prod_base, stack_documents, change) -> dict[str, str]:
    """The summary lines, by endpoint key, of `change` (a function editing a copy of the prod stack file)."""
    document = copy.deepcopy(stack_documents["prod"])
    change(document)
    return {line.split(": ", 1)[0]: line for line in change_lines(prod_base, summaries_of(document))}


def test_a_traffic_shift_under_a_rollout_reads_as_the_split_and_its_steps(prod_base, stack_documents):
    def shift(document):
        endpoints(document)["risk-classifier"]["traffic"] = {"risk_classifier-3": 50, "risk_classifier-4": 50}

    lines = lines_after(prod_base, stack_documents, shift)
    assert lines["risk-classifier"] == "risk-classifier: traffic 90/10 -> 50/50; rollout to 50% in 1 step"
    assert lines["fraud-scorer"] == "fraud-scorer: no change"


def test_a_shift_to_100_passes_through_every_step_above_the_live_share(prod_base, stack_documents):
    def promote(document):
        endpoints(document)["risk-classifier"]["traffic"] = {"risk_classifier-3": 0, "risk_classifier-4": 100}

    lines = lines_after(prod_base, stack_documents, promote)
    assert lines["risk-classifier"] == "risk-classifier: traffic 90/10 -> 0/100; rollout to 100% in 2 steps"


def test_a_rollback_by_config_says_it_moves_at_once(prod_base, stack_documents):
    def roll_back(document):
        endpoints(document)["risk-classifier"]["traffic"] = {"risk_classifier-3": 100, "risk_classifier-4": 0}

    lines = lines_after(prod_base, stack_documents, roll_back)
    assert lines["risk-classifier"] == (
        "risk-classifier: traffic 90/10 -> 100/0; risk_classifier-4 back to 0% in one config update (not gated)"
    )


def test_a_new_model_version_reads_as_a_version_change_not_as_traffic(prod_base, stack_documents):
    def upgrade(document):
        endpoints(document)["fraud-scorer"]["served_models"][0]["version"] = 3

    assert lines_after(prod_base, stack_documents, upgrade)["fraud-scorer"] == "fraud-scorer: version 2 -> 3"


def test_a_new_endpoint_names_the_endpoint_and_what_it_serves(prod_base, stack_documents):
    def add(document):
        endpoints(document)["recommender"] = {
            "served_models": [{"model": "main.recs.recommender", "version": 7, "workload_size": "Small"}],
            "access": {"query_service_principal": "3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10"},
        }

    lines = lines_after(prod_base, stack_documents, add)
    assert lines["recommender"] == "recommender: new endpoint prod-recommender serving recommender v7"


def test_a_removed_endpoint_says_the_endpoint_is_deleted(prod_base, stack_documents):
    def remove(document):
        del endpoints(document)["fraud-scorer"]

    lines = lines_after(prod_base, stack_documents, remove)
    assert lines["fraud-scorer"] == "fraud-scorer: removed (endpoint prod-fraud-scorer is deleted)"


def test_access_and_tag_changes_name_the_principal_and_the_tag(prod_base, stack_documents):
    def regrant(document):
        endpoint = endpoints(document)["fraud-scorer"]
        endpoint["access"]["manager_groups"] = ["ml-platform-oncall"]
        endpoint["tags"]["team"] = "payments"

    assert lines_after(prod_base, stack_documents, regrant)["fraud-scorer"] == (
        "fraud-scorer: access - group:fraud-analytics; tags team fraud -> payments"
    )


def test_a_capacity_change_names_the_served_entity_and_both_values(prod_base, stack_documents):
    def resize(document):
        endpoints(document)["fraud-scorer"]["served_models"][0]["workload_size"] = "Medium"

    assert lines_after(prod_base, stack_documents, resize)["fraud-scorer"] == (
        "fraud-scorer: fraud_scorer-2 workload_size Large -> Medium"
    )


def test_other_settings_are_named_and_left_to_the_details(prod_base, stack_documents):
    def describe(document):
        endpoints(document)["fraud-scorer"]["description"] = "Card fraud scorer, v2."

    line = lines_after(prod_base, stack_documents, describe)["fraud-scorer"]
    # The field as the review's tree names it (it may say how pulumi-databricks applies it).
    assert line.startswith("fraud-scorer: also description")
    assert line.endswith(" (details below)") and ";" not in line


def test_without_a_comparison_each_endpoint_says_what_it_serves(prod_base):
    assert declared_lines(prod_base) == [
        "fraud-scorer: prod-fraud-scorer serves fraud_scorer v2 100%; alerts error_rate > 0.01, volume_drop > 0.5",
        "risk-classifier: prod-risk-classifier serves risk_classifier v3 90%, risk_classifier v4 10%; "
        "rollout of risk_classifier-4 through [10, 50, 100]; "
        "alerts error_rate > 0.01, p95_latency_ms > 300, volume_drop > 0.5",
    ]


def test_the_text_review_starts_with_the_summary_lines(tmp_path, stack_documents):
    document = copy.deepcopy(stack_documents["prod"])
    endpoints(document)["fraud-scorer"]["served_models"][0]["version"] = 3
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(document))
    status, out, _ = review("prod", "--stack-file", str(proposed), "--against-stack", "prod")
    assert status == 0
    assert out.splitlines()[:3] == [
        "Stack prod: changes from stack prod to stack prod:",
        "  fraud-scorer: version 2 -> 3",
        "  risk-classifier: no change",
    ]


def test_the_markdown_review_is_a_pr_comment_with_one_bullet_per_endpoint_and_folded_details(tmp_path, stack_documents):
    document = copy.deepcopy(stack_documents["prod"])
    endpoints(document)["risk-classifier"]["traffic"] = {"risk_classifier-3": 50, "risk_classifier-4": 50}
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(document))
    status, out, _ = review("prod", "--stack-file", str(proposed), "--against-stack", "prod", "--markdown")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "### Stack prod: changes from stack prod to stack prod"
    assert lines[2:4] == [
        "- **fraud-scorer**: no change",
        "- **risk-classifier**: traffic 90/10 -> 50/50; rollout to 50% in 1 step",
    ]
    assert "policy: no mandatory violation" in lines
    assert "<details><summary>Changes field by field</summary>" in lines
    assert "        traffic.risk_classifier-4: 10 -> 50" in lines


def test_the_json_review_carries_the_summary_lines(tmp_path, stack_documents):
    import json

    document = copy.deepcopy(stack_documents["prod"])
    del endpoints(document)["fraud-scorer"]
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(document))
    status, out, _ = review("prod", "--stack-file", str(proposed), "--against-stack", "prod", "--json")
    assert status == 0
    assert json.loads(out)["summary"] == [
        "fraud-scorer: removed (endpoint prod-fraud-scorer is deleted)",
        "risk-classifier: no change",
    ]


def test_an_invalid_stack_file_in_markdown_mode_is_a_comment_saying_why(tmp_path, stack_documents):
    document = copy.deepcopy(stack_documents["prod"])
    endpoints(document)["fraud-scorer"]["served_models"][0]["version"] = 0
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(document))
    status, out, _ = review("prod", "--stack-file", str(proposed), "--markdown")
    assert status == 2
    assert out.splitlines()[0] == "### Stack prod: cannot be reviewed"
    assert "endpoints.fraud-scorer.served_models[0].version = 0: must be a positive integer" in out


def test_an_ai_gateway_change_names_the_setting_and_both_values():
    base = endpoint_summaries(
        "fraud-scorer", {"ai_gateway.rate_limits.endpoint": "12000 calls/minute", "ai_gateway.usage_tracking": True}
    )
    candidate = endpoint_summaries(
        "fraud-scorer",
        {
            "ai_gateway.rate_limits.endpoint": "9000 calls/minute",
            "ai_gateway.usage_tracking": True,
            "ai_gateway.fallback": True,
        },
    )
    assert change_lines(base, candidate) == [
        "fraud-scorer: AI Gateway rate_limits.endpoint 12000 calls/minute -> 9000 calls/minute, + fallback true"
    ]
