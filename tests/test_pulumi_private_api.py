"""The private Pulumi runtime review/engine.py drives is there, in the shape it relies on.

Every test and the offline review run the program through review/engine.py, which uses names the Pulumi
SDK does not export (`PRIVATE_PULUMI_API`). An SDK upgrade that moves one fails here first, naming it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from review.engine import PRIVATE_PULUMI_API, PULUMI_VERSION, PrivateApi

PROJECT_DIR = Path(__file__).resolve().parent.parent


def pinned_pulumi() -> str:
    """The pulumi version requirements.txt pins."""
    match = re.search(r"^pulumi==(\S+)", (PROJECT_DIR / "requirements.txt").read_text(), re.MULTILINE)
    assert match, "requirements.txt pins no pulumi version"
    return match.group(1)


def resolve(entry: PrivateApi) -> Any:
    module_name, _, path = entry.name.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in path.split("."):
        assert hasattr(found, part), f"{entry.name}: pulumi {installed()} has no {part!r} (used for: {entry.use})"
        found = getattr(found, part)
    return found


def installed() -> str:
    return importlib.metadata.version("pulumi")


def test_the_installed_pulumi_is_the_pinned_one_the_private_names_were_checked_against():
    assert installed() == pinned_pulumi() == PULUMI_VERSION, (
        f"pulumi {installed()} installed, {pinned_pulumi()} pinned in requirements.txt, review/engine.py's "
        f"PRIVATE_PULUMI_API checked against {PULUMI_VERSION}: check each entry, then update PULUMI_VERSION"
    )


@pytest.mark.parametrize("entry", PRIVATE_PULUMI_API, ids=lambda entry: entry.name)
def test_each_private_pulumi_name_has_the_shape_the_review_relies_on(entry: PrivateApi):
    found = resolve(entry)
    where = f"{entry.name} (pulumi {installed()}, relied on since {entry.since}, for: {entry.use})"
    if entry.parameters:
        assert callable(found), f"{where} is no longer callable"
        parameters = inspect.signature(found).parameters
        missing = [name for name in entry.parameters if name not in parameters]
        assert not missing, f"{where} lost the parameters {missing}"
    members = set(dir(found)) | set(inspect.get_annotations(found) if inspect.isclass(found) else {})
    missing = [name for name in entry.members if name not in members]
    assert not missing, f"{where} lost the members {missing}"
    fields = set(found.DESCRIPTOR.fields_by_name) if entry.fields else set()
    missing = [name for name in entry.fields if name not in fields]
    assert not missing, f"{where} lost the fields {missing}"


def test_every_entry_says_why_and_what_else_there_is():
    for entry in PRIVATE_PULUMI_API:
        assert entry.use and entry.since and entry.public_alternative, entry.name
