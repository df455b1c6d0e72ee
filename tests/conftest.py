"""Shared fixtures: the real program run under Pulumi's mock engine, once per stack file."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from review.engine import ProgramRun, run_program, stack_file
from tests.support import STACKS


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


# --------------------------------------------------------------------------------------------------
# The local workspace (emulator) for the readiness provider's tests


@pytest.fixture(scope="module")
def workspace():
    """A fast emulator on loopback: updates take 0.3 s, cold starts 1 s, first requests 0.1 s."""
    from emulator.testing import running_emulator

    with running_emulator(
        update_seconds=0.3, cold_start_seconds=1.0, model_load_seconds=0.1, scale_to_zero_idle_seconds=30
    ) as handle:
        yield handle
