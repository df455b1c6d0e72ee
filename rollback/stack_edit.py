"""The stack file rewritten for a rollback: all traffic on one served entity, as a round trip.

The file's comments, key order, quotes and flow style stay as written; only three things of one endpoint's
entry change:
- `traffic`: the rollback's entity 100, every other served entity 0 (added when the entry had no `traffic`
  and now serves more than one entity);
- `served_models`: the entity added back, at the position it had, when it had been removed (re-provisioning);
- `rollout` (when the entry has one): `stable` becomes the rollback's entity, and when that entity was the
  candidate, the former stable becomes the candidate. Either way the candidate's declared share is 0, below
  its live share or equal to it, and the plugin moves a share down in one config update, without parity,
  bake or health gate (serving.traffic_shift: "moving the share down happens at once").
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from components.config import PROJECT
from components.config.served import raw_served_name
from review.adopt import file_indent

ENDPOINTS_KEY = f"{PROJECT}:endpoints"


class StackEditError(Exception):
    """The stack file does not have the shape a rollback rewrites (the validation message says the rest)."""


def round_trip_yaml(text: str) -> Any:
    """ruamel.yaml's round-trip loader/dumper set to the file's own indentation (as `python -m review import`)."""
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long value the file holds on one line
    mapping, sequence, offset = file_indent(text)
    rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    return rt


def endpoint_entry(document: Any, key: str) -> Any:
    """The entry `endpoints.<key>` of a loaded stack file."""
    config = document.get("config") if isinstance(document, Mapping) else None
    endpoints = config.get(ENDPOINTS_KEY) if isinstance(config, Mapping) else None
    entry = endpoints.get(key) if isinstance(endpoints, Mapping) else None
    if not isinstance(entry, Mapping):
        known = ", ".join(sorted(endpoints)) if isinstance(endpoints, Mapping) else "none"
        raise StackEditError(f"the stack file has no endpoint `{key}` under `{ENDPOINTS_KEY}` (endpoints: {known})")
    return entry


def served_names(entry: Mapping[str, Any]) -> list[str]:
    """The served entity names of a raw entry, in order (`name`, or the default `<short name>-<version>`)."""
    names = [raw_served_name(model) for model in entry.get("served_models") or []]
    if not names or None in names:
        raise StackEditError("`served_models` must list served entities with a model and a version")
    return [name for name in names if name is not None]


def rewrite_for_rollback(
    text: str, key: str, target: str, restored: Mapping[str, Any] | None = None, position: int = 0
) -> str:
    """`text` with all of endpoint `key`'s traffic on the served entity `target`.

    `restored`: the served model entry to add back (as an earlier revision declared it), at `position` in
    `served_models` (or last); None when `target` is still declared.
    """
    from ruamel.yaml.comments import CommentedMap

    rt = round_trip_yaml(text)
    document = rt.load(text)
    entry = endpoint_entry(document, key)
    served = entry["served_models"]
    if restored is not None:
        served.insert(min(position, len(served)), CommentedMap(restored))
    names = served_names(entry)
    if target not in names:
        raise StackEditError(f"`{target}` is not a served entity of `{key}` (served: {', '.join(names)})")
    routes = {name: 100 if name == target else 0 for name in names}
    traffic = entry.get("traffic")
    if isinstance(traffic, CommentedMap):
        for name in [name for name in traffic if name not in routes]:
            del traffic[name]
        for name, share in routes.items():
            traffic[name] = share  # an existing key keeps its place and style; a new one goes last
    elif len(names) > 1:
        entry.insert(list(entry).index("served_models") + 1, "traffic", CommentedMap(routes))
    rollout = entry.get("rollout")
    if isinstance(rollout, CommentedMap):
        stable = rollout.get("stable")
        if rollout.get("candidate") == target:
            rollout["candidate"] = stable
        rollout["stable"] = target
    stream = io.StringIO()
    rt.dump(document, stream)
    return stream.getvalue()
