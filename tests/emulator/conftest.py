"""Fixtures for the emulator's tests: one fast emulator per session (reset before each test) and a
small client for its REST API (tests/emulator/support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.testing import EmulatorHandle, running_emulator
from tests.emulator.support import FAST, WorkspaceApi


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorHandle]:
    with running_emulator(**FAST) as emu:
        yield emu


@pytest.fixture
def emu(emulator_server: EmulatorHandle) -> EmulatorHandle:
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def api(emu: EmulatorHandle) -> WorkspaceApi:
    return WorkspaceApi(emu)
