"""The exit statuses README.md gives for `python -m review` (and `python -m review import`), as the command
itself returns them: 1 only ever for a mandatory policy violation."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import review.__main__ as review_cli
from review.engine import PROJECT_DIR
from tests.support import TOKEN, clear_databricks_environment, closed_port, review


@pytest.fixture(autouse=True)
def nothing_in_the_environment(monkeypatch, tmp_path):
    clear_databricks_environment(monkeypatch, tmp_path)


def test_an_interrupted_review_exits_130_not_1(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(review_cli, "review", interrupted)
    status, out, err = review("prod")
    assert (status, out, err.strip()) == (130, "", "interrupted: no review was made")


def test_a_reader_that_stops_early_leaves_the_status_of_the_review():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the review prints: every write fails with EPIPE
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "review", "prod"],
            cwd=PROJECT_DIR,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (completed.returncode, completed.stderr) == (0, "")


def test_live_against_a_host_that_refuses_connections_exits_2_naming_the_host(monkeypatch):
    host = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("DATABRICKS_HOST", host)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    status, out, err = review("dev", "--live")
    assert (status, out) == (2, "")
    assert f"cannot reach the workspace {host}: connection refused" in err
    assert TOKEN not in err


def test_live_without_credentials_exits_2_naming_what_to_set(monkeypatch, workspace):
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    status, _, err = review("dev", "--live")
    assert status == 2
    assert f"no Databricks credentials for {workspace.url}: set DATABRICKS_TOKEN" in err


@pytest.mark.parametrize("output", ["--json", "--markdown"])
def test_live_against_an_unreachable_host_is_an_error_document_with_exit_2(monkeypatch, output):
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    status, out, _ = review("dev", "--live", output)
    assert status == 2
    assert "cannot reach the workspace" in out and TOKEN not in out


def test_import_against_a_host_that_refuses_connections_exits_2(monkeypatch, tmp_path):
    host = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("DATABRICKS_HOST", host)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    status, _, err = review("import", "--stack", "dev", "dev-risk-classifier", "--output-dir", str(tmp_path))
    assert status == 2
    assert f"cannot reach the workspace {host}: connection refused" in err
