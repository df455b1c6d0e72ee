"""What keeps the offline review quick: it imports nothing it never calls (timings live in bench/review.py)."""

from __future__ import annotations

import subprocess
import sys

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
