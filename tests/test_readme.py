"""The README stays true: every stack config key is in its config reference, and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from components.config import StackConfig, parse_stack_config
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


def test_the_served_entity_kinds_example_is_a_valid_stack():
    section = README.split("## Every kind of served entity", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    values = yaml.safe_load(example)
    config = parse_stack_config("dev", {"endpoints": values["databricks-serving:endpoints"]})
    assert config.endpoints["assistant"].routes == {"gpt-4o": 90, "claude-sonnet-4": 10}
    assert config.endpoints["llama"].served_names == ["llama_v3_2_3b_instruct-2"]
