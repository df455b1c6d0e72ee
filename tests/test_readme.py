"""The README stays true: every stack config key is in its config reference, and its commands exist."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from components.config import StackConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
MAKEFILE = (Path(__file__).resolve().parent.parent / "Makefile").read_text()


def reference_keys() -> set[str]:
    """The keys in the first column of the README's config reference tables."""
    section = README.split("## Config reference", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


def _nested(annotation: object) -> tuple[str, type[BaseModel]] | None:
    """For a field holding config models: how the README writes the step into them, and the model."""
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(options) == 1:
        annotation = options[0]  # Optional[X] is X
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "[].", args[0]
    if origin is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return ".<key>.", args[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ".", annotation
    return None


def config_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of the stack config, written as the README writes them (`endpoints.<key>.served_models[].x`)."""
    keys = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        nested = _nested(field.annotation)
        keys.append(path)
        if nested is not None:
            keys.extend(config_keys(nested[1], path + nested[0]))
    return sorted(keys)


def test_every_stack_config_key_is_in_the_config_reference():
    documented = reference_keys()
    assert [key for key in config_keys(StackConfig) if key not in documented] == []


def test_the_config_reference_documents_no_key_that_does_not_exist():
    documented = {key for key in reference_keys() if ":" not in key}
    assert sorted(documented - set(config_keys(StackConfig))) == []


def test_every_make_target_the_readme_names_exists():
    targets = set(re.findall(r"^([a-z0-9-]+):", MAKEFILE, flags=re.MULTILINE))
    named = set(re.findall(r"make ([a-z0-9-]+)", README))
    assert named and named <= targets
