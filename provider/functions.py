"""The functions of the `servingops` plugin, served by `Invoke`: read-only answers the program asks for.

`servingops:index:resolveModelVersion` {model, alias} -> {version} or {unresolved}: the version a model
alias (`@champion`; `@Production` / `@Staging` for a workspace Model Registry model) points at when the
program runs, so that the number is what the program declares and records. An alias that moves shows up as
a version change in the next preview.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from serving.preflight import resolve_version
from serving.workspace import ServingClient

RESOLVE_MODEL_VERSION = "servingops:index:resolveModelVersion"
NO_CREDENTIALS = "no credentials"


class FunctionError(Exception):
    """A function's inputs are wrong: the message is for the user."""


def resolve_model_version(args: Mapping[str, Any], client: ServingClient | None) -> dict[str, Any]:
    """{"version": "4"} when the alias exists; {"unresolved": why} without credentials or without the alias."""
    model, alias = args.get("model"), args.get("alias")
    if not isinstance(model, str) or not isinstance(alias, str) or not alias.startswith("@"):
        raise FunctionError(f"{RESOLVE_MODEL_VERSION} takes a model name and an alias `@<name>`, got {dict(args)}")
    if client is None:
        return {"unresolved": NO_CREDENTIALS}
    resolution = resolve_version(client, model, alias)
    if resolution.version is None:
        return {"unresolved": resolution.problem}
    return {"version": resolution.version}


FUNCTIONS: dict[str, Callable[[Mapping[str, Any], ServingClient | None], dict[str, Any]]] = {
    RESOLVE_MODEL_VERSION: resolve_model_version,
}
