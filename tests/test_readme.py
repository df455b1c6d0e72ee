"""The README stays true: every stack config key is in its config reference, and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from components.config import StackConfig
from tests.support import README, config_keys

MAKEFILE = (Path(__file__).resolve().parent.parent / "Makefile").read_text()


def reference_keys() -> set[str]:
    """The keys in the first column of the README's config reference tables."""
    section = README.split("## Config reference", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


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
