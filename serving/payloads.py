"""Request bodies that cross the Pulumi engine as JSON text, so that their numbers keep their JSON type.

The engine carries every number of a resource input as a protobuf double: a warmup example written
`age: 42` in the stack file would reach the plugin as `42.0`, and a model whose signature types `age` as
`long` refuses a float (MLflow: "Can not safely convert float64 to int64"), an `inputs` field that must be
an integer (`max_tokens`) fails validation, a lookup key `42` becomes `"42.0"`. So the program sends each
body as the text `encode` makes of it, the plugin `decode`s that text and sends the result: what the
workspace receives is the text the stack file's values make, byte for byte (`ServingClient` serialises
the decoded body with the same `json.dumps` defaults, keys in the text's order), and the review can show
that text.

Plugin versions before this one recorded the bodies as structures (`warmup.input_example`, `examples`,
`expected_predictions`) whose numbers were already doubles: `recorded` reads either shape, and
`same_payload` compares a recorded structure with new text by value (numbers as numbers), so that
upgrading the plugin alone plans no change, while between two texts `42` -> `42.0` is a change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


class PayloadError(ValueError):
    """A body's text is not JSON."""


def encode(body: Any) -> str:
    """The canonical JSON text of a body, exactly as `ServingClient` sends it once decoded.

    Object keys sorted: their order carries no meaning in any input format (records, `inputs`, `params`;
    `dataframe_split` orders its columns by a list), so a stack file rewritten in another key order is no
    change, while every list, number and string stays as written."""
    return json.dumps(body, sort_keys=True)


def decode(text: str, where: str) -> Any:
    """The body a text holds; `where` names the input in the error."""
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError) as error:
        raise PayloadError(f"{where} is not JSON text: {error}") from None


def encode_all(bodies: Sequence[Any] | None) -> list[str] | None:
    return None if bodies is None else [encode(body) for body in bodies]


def recorded(props: Mapping[str, Any], text_key: str, legacy_key: str) -> Any:
    """The body (or list of bodies) of `text_key` (JSON text, or a list of texts), or else the structure
    recorded under `legacy_key` by an older plugin; None when neither is there."""
    text = props.get(text_key)
    if isinstance(text, str):
        return decode(text, text_key)
    if isinstance(text, list):
        return [decode(item, f"{text_key}[{index}]") for index, item in enumerate(text)]
    return props.get(legacy_key)


def _by_value(value: Any) -> Any:
    """A body as an older record holds it: every number a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {key: _by_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_by_value(item) for item in value]
    return value


def same_payload(olds: Mapping[str, Any], news: Mapping[str, Any], text_key: str, legacy_key: str) -> bool:
    """Whether the recorded body (`olds`, either shape) is the new one: as text when both are text, else by
    value (an older record lost the JSON types, so `42` and `42.0` cannot be told apart there)."""
    old_text, new_text = olds.get(text_key), news.get(text_key)
    if old_text is not None and new_text is not None:
        return bool(old_text == new_text)
    try:
        return bool(_by_value(recorded(olds, text_key, legacy_key)) == _by_value(recorded(news, text_key, legacy_key)))
    except PayloadError:
        return False
