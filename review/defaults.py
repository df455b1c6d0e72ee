"""What an absent setting means: the value the serving API applies when a request leaves the field out.

One side of a comparison that lacks a field and the other that holds the API's default for it describe the
same endpoint: `route_optimized: absent -> false` changes nothing, so the change summary, the field diff
and the live report do not call it a change (let alone a replace). The rule, in one place:

- `false`, `""`, `[]`, `{}` are what an absent value means: the API (and databricks-sdk's `as_dict`, and
  the emulator) leaves them out of a body, and a request without them gets exactly that;
- a few fields have a default of their own (`workload_type`: `CPU`), taken from the config model;
- a number is never a default: a 0% route is declared, not absent;
- in a map whose keys are the content (tags, grants: `tags.<key>`, `access.<principal>`), a key is a setting
  whatever its value: a tag without a value is still a tag.
"""

from __future__ import annotations

from typing import Any

from components.config import ServedModelConfig


class _Absent:
    """A field one side does not have."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()

API_DEFAULTS: dict[str, Any] = {
    # databricks-sdk ServedEntityInput.workload_type: "The default value for this parameter is CPU".
    "workload_type": str(ServedModelConfig.model_fields["workload_type"].default),
}
"""Field (its last dotted part) -> the value the API applies when the field is absent, beyond false/empty."""
KEYED_MAPS = ("tags.", "access.", "grants.")
"""Fields named after a map's key: the key's presence is the setting."""


def setting_name(field: str) -> str:
    """`served_entities.risk_classifier-4.workload_type` -> `workload_type`; a field's note
    (`route_optimized (a change recreates the endpoint)`) is not part of its name."""
    return field.split(" (", 1)[0].rsplit(".", 1)[-1]


def is_default(field: str, value: Any) -> bool:
    """Whether `value` (None or ABSENT for a missing field) is what the API applies for `field`."""
    if value is None or value is ABSENT:
        return True
    if field.startswith(KEYED_MAPS):
        return False
    if value is False:
        return True
    if isinstance(value, (str, list, dict, tuple)) and not value:
        return True
    default = API_DEFAULTS.get(setting_name(field))
    return default is not None and isinstance(value, str) and value == default


def same_setting(field: str, before: Any, after: Any) -> bool:
    """Whether two values of `field` configure the same endpoint: equal, or each absent or the default."""
    return before == after or (is_default(field, before) and is_default(field, after))
