"""Property values on the wire: the engine's `PropertyValue`s as plain Python and back, secrets kept.

The engine sends numbers as floats, unknowns (a preview of a value not known yet) as the sentinel
string `rpc.UNKNOWN`, and secrets wrapped. The resources here work on plain dicts; what came in secret
goes out secret (`Values.secret_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.runtime import rpc

UNKNOWN = rpc.UNKNOWN


@dataclass
class Values:
    """A property map as plain Python, and which top-level keys held a secret."""

    plain: dict[str, Any]
    secret_keys: set[str] = field(default_factory=set)


def _plain(value: PropertyValue) -> Any:
    inner = value.value
    if isinstance(inner, Mapping):
        return {key: _plain(item) for key, item in inner.items()}
    if isinstance(inner, tuple):
        return [_plain(item) for item in inner]
    return inner


def decode(struct: struct_pb2.Struct) -> Values:
    values = PropertyValue.unmarshal_map(struct)
    return Values(
        plain={key: _plain(value) for key, value in values.items()},
        secret_keys={key for key, value in values.items() if value.contains_secret()},
    )


def _value(item: Any) -> PropertyValue:
    if isinstance(item, PropertyValue):
        return item
    if isinstance(item, bool) or item is None or isinstance(item, str):
        return PropertyValue(item)
    if isinstance(item, (int, float)):
        return PropertyValue(float(item))
    if isinstance(item, Mapping):
        return PropertyValue({str(key): _value(child) for key, child in item.items()})
    if isinstance(item, (list, tuple)):
        return PropertyValue([_value(child) for child in item])
    raise TypeError(f"cannot send a {type(item).__name__} to the engine")


def encode(plain: Mapping[str, Any], secret_keys: Set[str] = frozenset()) -> struct_pb2.Struct:
    return PropertyValue.marshal_map({key: _value(item).with_secret(key in secret_keys) for key, item in plain.items()})


def has_unknowns(value: Any) -> bool:
    """Whether a value (during a preview) holds anything not known yet."""
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknowns(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknowns(item) for item in value)
    return False
