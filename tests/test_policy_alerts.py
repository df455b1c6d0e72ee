"""The advisory rule `prod-endpoint-alerts`: every prod endpoint has an alert on its telemetry."""

from __future__ import annotations

from policy.rules import UNKNOWN, Enforcement, Options, check_prod_endpoint_alerts, evaluate
from tests.support import alert, component_urn, endpoint, readiness, verdict_of


def messages(resources, stack: str = "prod") -> list[str]:
    return [finding.message for finding in check_prod_endpoint_alerts(resources, Options(stack=stack))]


def test_a_prod_endpoint_without_an_alert_is_asked_for_monitoring():
    assert messages([endpoint(), readiness()]) == [
        "endpoint `prod-risk` (risk-endpoint): has no alert on prod, so a regression after the deploy pages "
        "nobody; add `endpoints.risk.monitoring` (a SQL `warehouse` and the `notify` destinations): its latency "
        "and 5xx alerts take the rollout's health gate thresholds"
    ]


def test_an_alert_next_to_the_endpoint_satisfies_the_rule():
    assert messages([endpoint(), alert()]) == []


def test_an_alert_elsewhere_whose_query_names_the_endpoint_satisfies_the_rule():
    query = "SELECT 1 FROM system.serving.served_entities WHERE endpoint_name = 'prod-risk'"
    assert messages([endpoint(), alert("other", parent="", query=query)]) == []


def test_an_alert_next_to_another_endpoint_does_not_count():
    assert messages([endpoint(), alert("fraud", parent=component_urn("fraud"))]) != []


def test_a_dev_endpoint_needs_no_alert():
    dev = endpoint(tags={"environment": "dev"})
    assert messages([dev], stack="dev") == []


def test_an_endpoint_tagged_prod_on_another_stack_is_judged_prod():
    assert len(messages([endpoint(tags={"environment": "prod"})], stack="sandbox")) == 1


def test_an_unknown_query_during_preview_is_not_judged():
    assert messages([endpoint(), alert("other", parent="", query=UNKNOWN)]) == []


def test_the_rule_is_advisory():
    verdict = verdict_of("prod-endpoint-alerts", evaluate([endpoint(), readiness()], "prod"))
    assert (verdict.enforcement, len(verdict.findings)) == (Enforcement.ADVISORY, 1)
