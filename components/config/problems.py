"""How the config models collect every problem of a stack file at once, as data.

pydantic stops a model at its first broken field validator and skips a model's own validators when a
field is invalid: a stack file with three mistakes would then be fixed in three rounds. So every model
derives from `StrictModel`, whose one wrap validator (`_every_problem`) gathers, per model:
- the problems of its fields (pydantic's type errors, and each field validator's `fail(...)`), and
- the problems of its cross-field rules (`_rules`), which read the raw values and so run even where a
  field they do not need is invalid,
and raises them together. A parent model receives its children's problems with their key paths and adds
its own, so `StackConfig.model_validate` raises one `ValidationError` holding every problem, each a
`Problem` once read back (`problems_of`); `components.config.messages` turns them into stack-file lines.

To add a rule:
- about one field: a `@field_validator` that raises `fail("<code>", "<message>", **context)`; the message
  says what the value must be (the key path and the value are added by the messages);
- about several fields: yield a `RuleProblem(loc, "<code>", "<message>")` from the model's `_rules`
  classmethod; `loc` is relative to the model (`()` for the model itself, `("traffic",)` for a field). Read
  the raw values defensively (`section`, `parsed_as`): they have not been validated.
Then add a test stating the rule in tests/test_config_validation.py (tests/test_config_problems.py covers
this machinery itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


def fail(code: str, message: str, **context: Any) -> PydanticCustomError:
    """A field validator's problem: `raise fail("percentage", "{served}: {share} is not ...", served=...)`."""
    return PydanticCustomError(code, message, context)


@dataclass(frozen=True)
class RuleProblem:
    """A broken rule that looks at several fields, found on a model's raw values."""

    loc: tuple[str | int, ...]
    """Where, relative to the model: the field a user would edit, or () for the model itself."""
    rule: str
    message: str


@dataclass(frozen=True)
class Problem:
    """One problem of a stack file's values: where, which rule, the final message, and the value found."""

    loc: tuple[str | int, ...]
    """The key path from the stack config's root (`("endpoints", "risk", "traffic")`)."""
    code: str
    """pydantic's error type (`string_type`, `missing`, ...) or the code a rule of ours gave."""
    message: str
    """Final text: never formatted again (it may quote a `{...}`, e.g. a secret reference)."""
    value: Any
    context: Mapping[str, Any] | None = None
    """What pydantic's own errors carry beside their message (`too_short`: `min_length`, `actual_length`)."""


def problems_of(error: ValidationError) -> list[Problem]:
    """The problems a `ValidationError` holds, in the order pydantic found them."""
    return [
        Problem(tuple(item["loc"]), item["type"], item["msg"], item.get("input"), item.get("ctx"))
        for item in error.errors(include_url=False)
    ]


def _value_at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _raise_together(title: str, problems: Iterable[Problem]) -> None:
    """Raise `problems` as one `ValidationError`, so that pydantic prefixes their key paths in a parent.

    `ValidationError.from_exception_data` is pydantic-core's documented way to raise several located
    problems from one validator; each is raised as a custom error whose message is already final.
    """
    details = [
        InitErrorDetails(
            type=PydanticCustomError(problem.code, problem.message, dict(problem.context or {})),
            loc=problem.loc,
            input=problem.value,
        )
        for problem in problems
    ]
    raise ValidationError.from_exception_data(title, details)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def parsed_as(type_: Any, value: Any) -> Any:
    """`value` read as `type_` the way the model reads it, or None when it is not one."""
    adapter = _ADAPTERS.get(type_)
    if adapter is None:
        adapter = _ADAPTERS[type_] = TypeAdapter(type_)
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def section(data: Any, *keys: str) -> Any:
    """`data[k1][k2]...` of raw values, or None where a level is missing or not a map."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


class StrictModel(BaseModel):
    """A block of the stack file: unknown keys refused, every problem reported with the others."""

    # A typo in a stack file (`workload_sise`) must fail, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        """Rules across fields. They read the raw values, so they are reported even when a field they do
        not need is invalid (pydantic's own model validators would be skipped then)."""
        return ()

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        problems: list[Problem] = []
        try:
            model = handler(data)
        except ValidationError as error:
            model, problems = None, problems_of(error)
        if isinstance(data, Mapping):
            problems += [
                Problem(rule.loc, rule.rule, rule.message, _value_at(data, rule.loc)) for rule in cls._rules(data)
            ]
        if problems:
            _raise_together(cls.__name__, problems)
        return model
