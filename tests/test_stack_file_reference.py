"""The README's config reference states each numeric limit as the config model enforces it.

`ge=0, le=240` reads "0-240"; `gt=0, le=240` reads "more than 0, at most 240"; a lone `ge`/`gt` reads
"at least N"/"more than N"; `max_length=N` reads "at most N".
"""

from __future__ import annotations

import re

import annotated_types
import pytest
from pydantic import BaseModel

from components.config import StackConfig
from tests.support import README, nested_model

BOUNDS = {
    "ge": annotated_types.Ge,
    "gt": annotated_types.Gt,
    "le": annotated_types.Le,
    "lt": annotated_types.Lt,
    "max_length": annotated_types.MaxLen,
}


def _number(value: float) -> str:
    return f"{value:g}"


def stated_limits(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Every key with a numeric limit -> how the README must state it."""
    limits: dict[str, str] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        bounds = {
            attribute: getattr(item, attribute)
            for item in field.metadata
            for attribute, kind in BOUNDS.items()
            if isinstance(item, kind)
        }
        if "ge" in bounds and "le" in bounds:
            limits[path] = f"{_number(bounds['ge'])}-{_number(bounds['le'])}"
        elif "gt" in bounds and "le" in bounds:
            limits[path] = f"more than {_number(bounds['gt'])}, at most {_number(bounds['le'])}"
        elif "ge" in bounds:
            limits[path] = f"at least {_number(bounds['ge'])}"
        elif "gt" in bounds:
            limits[path] = f"more than {_number(bounds['gt'])}"
        elif "max_length" in bounds:
            limits[path] = f"at most {bounds['max_length']}"
        nested = nested_model(field.annotation)
        if nested is not None:
            limits.update(stated_limits(nested[1], path + nested[0]))
    return limits


def reference_rule(key: str) -> str:
    (row,) = re.findall(rf"^\| `{re.escape(key)}` \|[^|]*\| (.*) \|$", README, flags=re.MULTILINE)
    return row


LIMITS = stated_limits(StackConfig)


def test_the_numeric_limits_are_found():
    assert LIMITS["endpoints.<key>.readiness.timeout_minutes"] == "more than 0, at most 240"
    assert LIMITS["endpoints.<key>.rollout.bake_minutes"] == "0-240"


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_the_readme_states_each_limit_as_the_code_enforces_it(key):
    assert LIMITS[key] in reference_rule(key)
