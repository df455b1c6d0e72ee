"""A field absent on one side and the API's default on the other is no change (review/defaults.py)."""

from __future__ import annotations

import pytest

from review.changes import change_lines
from review.defaults import ABSENT, is_default, same_setting
from review.diff import diff_summaries
from tests.support import endpoint_summaries

ROUTE_OPTIMIZED = "route_optimized (a change recreates the endpoint)"
ENTITY = "served_entities.fraud_scorer-2"
BASE = {f"{ENTITY}.model": "main.fraud.fraud_scorer", f"{ENTITY}.version": "2", f"{ENTITY}.workload_size": "Large"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (ROUTE_OPTIMIZED, False),
        ("description (applies at creation only)", ""),
        (f"{ENTITY}.workload_type", "CPU"),
        (f"{ENTITY}.scale_to_zero", False),
        ("ai_gateway.fallback", False),
        ("email_notifications.on_update_success", []),
    ],
)
def test_absent_and_the_apis_default_are_the_same_setting(field, value):
    assert is_default(field, value) and is_default(field, ABSENT) and is_default(field, None)
    assert same_setting(field, ABSENT, value) and same_setting(field, value, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (ROUTE_OPTIMIZED, True),
        (f"{ENTITY}.workload_type", "GPU_SMALL"),
        ("traffic.fraud_scorer-2", 0),
    ],
)
def test_a_value_other_than_the_default_is_a_setting(field, value):
    assert not is_default(field, value)
    assert not same_setting(field, ABSENT, value)


def test_route_optimized_absent_to_false_is_no_change_and_never_a_replace():
    base = endpoint_summaries("fraud-scorer", BASE)
    candidate = endpoint_summaries("fraud-scorer", {**BASE, ROUTE_OPTIMIZED: False})
    assert change_lines(base, candidate) == ["fraud-scorer: no change"]
    assert diff_summaries(base, candidate) == []


def test_route_optimized_absent_to_true_still_says_it_recreates_the_endpoint():
    base = endpoint_summaries("fraud-scorer", BASE)
    candidate = endpoint_summaries("fraud-scorer", {**BASE, ROUTE_OPTIMIZED: True})
    assert change_lines(base, candidate) == [f"fraud-scorer: also {ROUTE_OPTIMIZED} (details below)"]
    (change,) = diff_summaries(base, candidate)
    assert [(field.field, field.before, field.after) for field in change.fields] == [(ROUTE_OPTIMIZED, ABSENT, True)]


def test_a_served_entity_setting_made_explicit_at_its_default_is_no_capacity_change():
    base = endpoint_summaries("fraud-scorer", BASE)
    candidate = endpoint_summaries(
        "fraud-scorer", {**BASE, f"{ENTITY}.workload_type": "CPU", f"{ENTITY}.scale_to_zero": False}
    )
    assert change_lines(base, candidate) == ["fraud-scorer: no change"]
    assert diff_summaries(base, candidate) == []


def test_a_gateway_feature_declared_off_is_no_gateway_change():
    base = endpoint_summaries("fraud-scorer", {**BASE, "ai_gateway.usage_tracking": True})
    candidate = endpoint_summaries(
        "fraud-scorer", {**BASE, "ai_gateway.usage_tracking": True, "ai_gateway.fallback": False}
    )
    assert change_lines(base, candidate) == ["fraud-scorer: no change"]


def test_a_tag_without_a_value_is_still_an_added_tag():
    base = endpoint_summaries("fraud-scorer", BASE)
    candidate = endpoint_summaries("fraud-scorer", {**BASE, "tags.experimental": ""})
    assert change_lines(base, candidate) == ["fraud-scorer: tags + experimental "]
    (change,) = diff_summaries(base, candidate)
    assert [(field.field, field.before, field.after) for field in change.fields] == [("tags.experimental", ABSENT, "")]
