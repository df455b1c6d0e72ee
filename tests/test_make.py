"""The make targets keep what the README says: the command's own exit status is printed (make itself exits 2
whenever a recipe fails), and `make setup` with a Python older than 3.11 fails with one line saying so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import ENDPOINTS_KEY, make, status_lines

PROJECT_DIR = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def test_make_review_prints_the_reviews_own_status_of_a_policy_failure(tmp_path, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["served_models"][0]["scale_to_zero"] = True
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(prod_document))
    done = make("review", "STACK=prod", f"ARGS=--stack-file {proposed}")
    assert status_lines(done) == ["review exited 1: a mandatory policy violation"]
    assert done.returncode == 2  # GNU make's own status for any failed recipe


def test_make_review_of_an_invalid_stack_file_prints_status_2(tmp_path, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["served_models"][0]["version"] = 0
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(prod_document))
    done = make("review", "STACK=prod", f"ARGS=--stack-file {proposed}")
    assert status_lines(done) == [
        "review exited 2: invalid input (stack file, policy config, revision, usage) or an unreadable workspace"
    ]
    assert done.returncode == 2


def test_make_review_that_passes_prints_no_status_line():
    done = make("review", "STACK=dev")
    assert done.returncode == 0
    assert "exited" not in done.stderr


def test_make_setup_with_an_old_python_fails_with_one_line_naming_both_versions(tmp_path):
    old_python = tmp_path / "python3"
    # Answers the version check as a Python 3.9.18 would; anything else (pip) would be a failure of the test.
    old_python.write_text(
        f'#!/bin/sh\n[ "$1" = "-c" ] || exit 99\nexec {sys.executable} -c "import sys\n'
        'sys.version_info = (3, 9, 18)\n$2"\n'
    )
    old_python.chmod(0o755)
    done = subprocess.run(
        [
            "make",
            "-s",
            "setup",
            f"PYTHON3={old_python}",
            f"VENV={tmp_path / 'venv'}",
            f"DEV_VENV={tmp_path / 'venv-dev'}",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.splitlines()[0] == (
        f"make setup: Python 3.11 or newer is needed; {old_python} is Python "
        "3.9.18 (choose one with PYTHON3=/path/to/python3.11)"
    )
    assert not (tmp_path / "venv").exists()


def test_make_setup_without_that_python_says_so_in_one_line(tmp_path):
    done = subprocess.run(
        [
            "make",
            "-s",
            "setup",
            "PYTHON3=python3.0-not-installed",
            f"VENV={tmp_path / 'venv'}",
            f"DEV_VENV={tmp_path / 'venv-dev'}",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.splitlines()[0] == (
        "make setup: Python 3.11 or newer is needed; there is no "
        "python3.0-not-installed (choose one with PYTHON3=/path/to/python3.11)"
    )
