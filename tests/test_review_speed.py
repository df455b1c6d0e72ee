"""What keeps the offline review quick: it imports nothing it never calls (timings live in bench/review.py)."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

from review.engine import PROJECT_DIR

# Runs the review as `python -m review prod` does, then lists which of the heavy modules got imported.
PROBE = """
import sys, contextlib, io
sys.argv = ["review", "prod"]
import review.__main__ as cli
with contextlib.redirect_stdout(io.StringIO()):
    code = cli.main(["prod"])
print(code, sorted(name for name in ("databricks.sdk", "fastapi", "uvicorn", "grpc_tools") if name in sys.modules))
"""


def test_the_offline_review_never_imports_databricks_sdk():
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.split()[-1] == "[]", completed.stdout
    assert completed.stdout.split()[0] == "0"


class RecordingRevision:
    """Stands in for the base revision's process, recording when it is started, awaited or cancelled."""

    events: ClassVar[list[str]] = []

    def __init__(self, revision: str, stack: str, project_dir):
        self.commit = "0" * 40
        self.events.append("base started")

    def result(self):
        from review.revision import RevisionRun

        self.events.append("base awaited")
        return RevisionRun("HEAD", self.commit, [])

    def cancel(self):
        self.events.append("base cancelled")


def test_against_starts_the_base_revision_before_running_the_candidate(monkeypatch):
    import review.__main__ as cli
    from tests.support import review

    events: ClassVar[list[str]] = []
    monkeypatch.setattr(RecordingRevision, "events", events)
    monkeypatch.setattr(cli, "PendingRevision", RecordingRevision)
    candidate = cli._run

    def run(*args, **kwargs):
        events.append("candidate")
        return candidate(*args, **kwargs)

    monkeypatch.setattr(cli, "_run", run)
    status, _, _ = review("prod", "--against", "HEAD")
    assert status == 0
    assert events == ["base started", "candidate", "base awaited"]


def test_a_candidate_that_cannot_be_reviewed_stops_the_base_revision(monkeypatch, tmp_path):
    import review.__main__ as cli
    from tests.support import review

    events: ClassVar[list[str]] = []
    monkeypatch.setattr(RecordingRevision, "events", events)
    monkeypatch.setattr(cli, "PendingRevision", RecordingRevision)
    broken = tmp_path / "broken.yaml"
    broken.write_text("config: [1\n")
    status, _, _ = review("prod", "--against", "HEAD", "--stack-file", str(broken))
    assert status == 2
    assert events == ["base started", "base cancelled"]
