"""Shared fixtures: the real program run under Pulumi's mock engine, once per stack file."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from components.config import StackConfig, parse_stack_config
from review.engine import ProgramRun, project_name, run_program, stack_file, stacks

STACKS = stacks()


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, ProgramRun]:
    """Each stack file of the repo, run through the real `__main__.py` under mocks."""
    return {stack: run_program(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def stack_documents() -> dict[str, dict[str, Any]]:
    """Each stack file of the repo, parsed."""
    return {stack: yaml.safe_load(stack_file(stack).read_text()) for stack in STACKS}


@pytest.fixture
def prod_document(stack_documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A private copy of Pulumi.prod.yaml for a test to change."""
    return copy.deepcopy(stack_documents["prod"])


def project_values(document: dict[str, Any]) -> dict[str, Any]:
    """The stack file's keys of this project, without their namespace (`endpoints`, `defaults`)."""
    prefix = f"{project_name()}:"
    return {key[len(prefix) :]: value for key, value in document["config"].items() if key.startswith(prefix)}


def stack_config(document: dict[str, Any], stack: str = "test") -> StackConfig:
    return parse_stack_config(stack, project_values(document))
