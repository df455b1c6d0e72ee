"""The resources' shapes: Pulumi property names (camelCase) <-> the REST API's JSON (snake_case).

The bridge names a Terraform attribute in camelCase and pluralises a list whose Terraform name is singular
(`email_notifications.on_update_failure` -> `onUpdateFailures`, `access_control` -> `accessControls`);
Terraform blocks of at most one item (`config`, `traffic_config`, `ai_gateway`) are plain objects. A map
(`environment_vars`) keeps its keys as they are. Only the fields of the Terraform schema are state: a GET
answer is projected onto them (`project`), as `common.StructToData` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Shape:
    """One property: its API name and kind (scalar, map, object of fields, list of an element shape)."""

    api: str
    kind: str = "scalar"
    fields: dict[str, Shape] = field(default_factory=dict)
    element: Shape | None = None
    computed: bool = False
    """Optional+Computed in Terraform: absent from the inputs, the recorded value is kept (no diff)."""
    as_set: bool = False
    """A Terraform set: order does not matter."""
    equivalent: tuple[str, str] | None = None
    """Two fields of an object that name the same thing: the server fills both when one is set, and a value
    left out equal to the other field's is no change (`suppressRouteModelEntityNameDiff`)."""


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def scalar(api: str | None = None, *, computed: bool = False) -> Any:
    return ("scalar", api, computed)


def _build(name: str, spec: Any) -> Shape:
    if isinstance(spec, Shape):
        return spec
    kind = spec[0]
    if kind == "scalar":
        return Shape(api=spec[1] or _snake(name), computed=spec[2])
    if kind == "map":
        return Shape(api=spec[1] or _snake(name), kind="map")
    if kind == "object":
        _, api, fields, computed, equivalent = spec
        return Shape(
            api=api or _snake(name),
            kind="object",
            computed=computed,
            equivalent=equivalent,
            fields={key: _build(key, child) for key, child in fields.items()},
        )
    _, api, element, as_set = spec
    return Shape(api=api or _snake(name), kind="list", element=_build(name, element), as_set=as_set)


def obj(
    api: str | None = None, *, computed: bool = False, equivalent: tuple[str, str] | None = None, **fields: Any
) -> Any:
    return ("object", api, fields, computed, equivalent)


def lst(element: Any, api: str | None = None, *, as_set: bool = False) -> Any:
    return ("list", api, element, as_set)


def mapping(api: str | None = None) -> Any:
    return ("map", api)


def resource(**fields: Any) -> dict[str, Shape]:
    return {key: _build(key, spec) for key, spec in fields.items()}


# --- the API direction -----------------------------------------------------------------------------------


def _number(value: Any) -> Any:
    # The engine carries every number as a float; the API's integers (percentages, counts) go out as integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_api(props: dict[str, Any], shapes: dict[str, Shape]) -> dict[str, Any]:
    """Inputs (camelCase) as the API's request body; absent and null values are left out."""
    body: dict[str, Any] = {}
    for key, value in props.items():
        shape = shapes.get(key)
        if shape is None or value is None:
            continue
        body[shape.api] = _value_to_api(value, shape)
    return body


def _value_to_api(value: Any, shape: Shape) -> Any:
    if shape.kind == "object" and isinstance(value, dict):
        return to_api(value, shape.fields)
    if shape.kind == "list" and isinstance(value, list):
        assert shape.element is not None
        return [_value_to_api(item, shape.element) for item in value]
    if shape.kind == "map" and isinstance(value, dict):
        return {key: _number(item) for key, item in value.items()}
    return _number(value)


# --- the state direction ---------------------------------------------------------------------------------


def project(body: dict[str, Any], shapes: dict[str, Shape]) -> dict[str, Any]:
    """An API answer as state: the schema's fields only, camelCase; absent fields are null."""
    state: dict[str, Any] = {}
    for key, shape in shapes.items():
        state[key] = _value_from_api(body.get(shape.api), shape)
    return state


def _value_from_api(value: Any, shape: Shape) -> Any:
    if value is None:
        return None
    if shape.kind == "object" and isinstance(value, dict):
        return project(value, shape.fields)
    if shape.kind == "list" and isinstance(value, list):
        assert shape.element is not None
        return [_value_from_api(item, shape.element) for item in value]
    return value


# --- diff ------------------------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _zero(value: Any) -> bool:
    """Terraform SDKv2 cannot tell a primitive's zero value from its absence: state and plan hold `false`,
    `0` or `""` for an unset bool, number or string, so absent and zero are the same value."""
    return _empty(value) or value is False or (isinstance(value, (int, float)) and bool(value == 0))


def _same_scalar(old: Any, new: Any) -> bool:
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool):
        return float(old) == float(new)
    return bool(old == new)


def changed_paths(olds: dict[str, Any], news: dict[str, Any], shapes: dict[str, Shape], prefix: str = "") -> list[str]:
    """The property paths whose declared value differs from the recorded one, as Terraform's plan sees it:
    a value the inputs leave out is a change (to nothing) unless Terraform computes it."""
    paths: list[str] = []
    for key, shape in shapes.items():
        path = f"{prefix}{key}"
        if _differs(olds.get(key), news.get(key), shape, path, paths):
            paths.append(path)
    return paths


def _differs(old: Any, new: Any, shape: Shape, path: str, found: list[str]) -> bool:
    if shape.kind == "scalar" and _zero(old) and _zero(new):
        return False
    if _empty(new):
        return not (shape.computed or _empty(old))
    if _empty(old):
        return True
    if shape.kind == "object":
        if not isinstance(old, dict) or not isinstance(new, dict):
            return bool(old != new)
        fields = changed_paths(old, new, shape.fields, prefix=f"{path}.")
        if shape.equivalent is not None:
            fields = [p for p in fields if not _equivalent_value(old, new, shape.equivalent, p.rsplit(".", 1)[-1])]
        found.extend(fields)
        return False
    if shape.kind == "list":
        assert shape.element is not None
        if not isinstance(old, list) or not isinstance(new, list) or len(old) != len(new):
            return True
        if shape.as_set:
            return _set_key(old, shape.element) != _set_key(new, shape.element)
        inner: list[str] = []
        for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
            item_path = f"{path}[{index}]"
            if _differs(old_item, new_item, shape.element, item_path, inner):
                inner.append(item_path)
        found.extend(inner)
        return False
    if shape.kind == "map":
        return {k: _number(v) for k, v in (old or {}).items()} != {k: _number(v) for k, v in (new or {}).items()}
    if _zero(old) and _zero(new):
        return False
    return not _same_scalar(old, new)


def _equivalent_value(old: dict[str, Any], new: dict[str, Any], pair: tuple[str, str], key: str) -> bool:
    if key not in pair:
        return False
    other = pair[1] if key == pair[0] else pair[0]
    if _empty(new.get(key)) and not _empty(old.get(key)):
        return old.get(key) == old.get(other)
    if _empty(old.get(key)) and not _empty(new.get(key)):
        return new.get(key) == new.get(other)
    return False


def _set_key(items: list[Any], element: Shape) -> list[str]:
    def normal(item: Any) -> str:
        if isinstance(item, dict):
            kept = {k: _number(v) for k, v in item.items() if not _empty(v) and k in element.fields}
            # User and service principal names are case-insensitive (the provider's set hash lowers them).
            for key in ("userName", "servicePrincipalName"):
                if isinstance(kept.get(key), str):
                    kept[key] = kept[key].lower()
            return repr(sorted(kept.items()))
        return repr(_number(item))

    return sorted(normal(item) for item in items)
