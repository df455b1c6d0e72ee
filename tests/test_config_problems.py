"""The problem-collecting machinery of the config models (components.config.problems), on models of its own.

A rule is added as the module docstring says: a field validator raising `fail(...)`, or a `RuleProblem`
yielded by `_rules`. Whatever the mix, every problem of a stack file comes back at once, each with its key
path from the root, its code, its final message and the value found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from pydantic import ValidationError, field_validator

from components.config.problems import Problem, RuleProblem, StrictModel, fail, parsed_as, problems_of, section


class Route(StrictModel):
    """A toy block: one field rule (`share`), one cross-field rule (`name` must not be `share`'s text)."""

    name: str
    share: int

    @field_validator("share")
    @classmethod
    def _percentage(cls, value: int) -> int:
        if not 0 <= value <= 100:
            raise fail("percentage", "{share} is not a percentage 0-100", share=value)
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        if data.get("name") == "secret":
            yield RuleProblem(("name",), "secret_name", "holds `{{secrets/<scope>/<key>}}` literally")


class Table(StrictModel):
    routes: dict[str, Route]

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        routes = data.get("routes")
        if isinstance(routes, Mapping) and len(routes) > 1:
            total = sum(parsed_as(int, section(route, "share")) or 0 for route in routes.values())
            if total != 100:
                yield RuleProblem(("routes",), "sum", f"routes sum to {total}")


def problems(data: Any) -> list[Problem]:
    with pytest.raises(ValidationError) as caught:
        Table.model_validate(data)
    return problems_of(caught.value)


def test_a_field_problem_and_a_rule_problem_of_one_model_come_back_together():
    found = problems({"routes": {"a": {"name": "secret", "share": 120}}})
    assert [(problem.loc, problem.code) for problem in found] == [
        (("routes", "a", "share"), "percentage"),
        (("routes", "a", "name"), "secret_name"),
    ]


def test_a_rule_runs_on_raw_values_even_where_another_field_is_invalid():
    found = problems({"routes": {"a": {"name": "x", "share": "many"}, "b": {"name": "y", "share": 10}}})
    assert [(problem.loc, problem.code) for problem in found] == [
        (("routes", "a", "share"), "int_parsing"),
        (("routes",), "sum"),
    ]


def test_a_problem_carries_its_key_path_from_the_root_its_message_and_the_value_found():
    (found,) = problems({"routes": {"a": {"name": "x", "share": 120}}})
    assert found == Problem(
        ("routes", "a", "share"), "percentage", "120 is not a percentage 0-100", 120, {"share": 120}
    )


def test_a_message_is_final_and_quotes_braces_as_written_through_every_level():
    (found,) = problems({"routes": {"a": {"name": "secret", "share": 1}}})
    assert found.message == "holds `{{secrets/<scope>/<key>}}` literally"
    assert found.value == "secret"


def test_a_pydantic_error_keeps_its_code_key_path_and_value():
    (found,) = problems({"routes": {"a": {"name": "x", "share": 1, "shar": 2}}})
    assert (found.loc, found.code, found.value) == (("routes", "a", "shar"), "extra_forbidden", 2)


def test_a_valid_document_is_a_model():
    table = Table.model_validate({"routes": {"a": {"name": "x", "share": 100}}})
    assert table.routes["a"].share == 100
