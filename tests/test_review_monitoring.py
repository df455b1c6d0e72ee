"""The review shows an endpoint's alerts and destinations: what pages, when, whom, and a changed threshold."""

from __future__ import annotations

import pytest

from review.changes import change_lines, declared_lines
from review.engine import run_program
from review.summary import render_tree, summarize_run
from tests.support import ENDPOINTS_KEY, monitored, run_prod, unmonitored


@pytest.fixture
def summaries(prod_document):
    return summarize_run(run_prod(monitored(prod_document)).resources)


def fields_of(summaries, name):
    (summary,) = [summary for summary in summaries if summary.name == name]
    return summary.fields


def test_an_alert_shows_what_pages_when_and_whom(summaries):
    fields = fields_of(summaries, "risk-classifier-alert-latency")
    assert fields["alert"] == "p95_latency_ms > 300"
    assert fields["schedule"] == "0 0/5 * * * ? (UTC)"
    assert fields["notify"] == "destination-ml-slack, destination-oncall"
    assert fields["description"].endswith(
        "over the last 15 minutes (threshold from endpoints.risk-classifier.rollout.health.max_p95_latency_ms)."
    )


def test_a_destination_shows_its_kind_and_never_its_secret(summaries):
    assert fields_of(summaries, "destination-ml-mail") == {
        "display_name": "prod-ml-mail",
        "kind": "email",
        "email": ["ml-platform@example.com"],
    }
    assert fields_of(summaries, "destination-oncall") == {"display_name": "prod-oncall", "config": "[secret]"}
    tree = render_tree("prod", summaries)
    assert "pd-integration" not in tree and "hooks.slack.com" not in tree


def test_the_endpoint_line_names_its_alerts(summaries):
    (line,) = [line for line in declared_lines(summaries) if line.startswith("risk-classifier:")]
    assert line.endswith("; alerts error_rate > 0.01, p95_latency_ms > 300, volume_drop > 0.5")


def test_a_changed_health_gate_shows_as_the_alert_it_moves(prod_document, summaries):
    document = monitored(prod_document)
    document["config"][ENDPOINTS_KEY]["risk-classifier"]["rollout"]["health"]["max_error_rate"] = 0.05
    (line,) = [
        line
        for line in change_lines(summaries, summarize_run(run_prod(document).resources))
        if line.startswith("risk-classifier:")
    ]
    assert line.startswith("risk-classifier: alerts alert-error-rate error_rate > 0.01 -> error_rate > 0.05")


def test_adding_monitoring_shows_each_new_alert(prod_document, summaries):
    before = summarize_run(run_program("prod", document=unmonitored(prod_document)).resources)
    (line,) = [line for line in change_lines(before, summaries) if line.startswith("risk-classifier:")]
    assert line == (
        "risk-classifier: alerts + alert-error-rate error_rate > 0.01, + alert-latency p95_latency_ms > 300, "
        "+ alert-volume-drop volume_drop > 0.5; also alert-error-rate schedule, alert-error-rate warehouse_id, "
        "alert-error-rate notify and 9 more (details below)"
    )
