"""Under the real engine: a preview against a workspace that cannot be reached fails at once with the host
and where it is set, not after the sdk's retry budget with `unexpected ValueError: default auth: ...`."""

from __future__ import annotations

import pytest

from local_workspace.workspace import stack_file_for
from tests.e2e.support import free_port, variant

pytestmark = pytest.mark.engine


def test_a_preview_against_a_host_that_refuses_connections_without_credentials_names_the_host(deploy, tmp_path):
    deployment = deploy("dev")
    closed = f"http://127.0.0.1:{free_port()}"
    stack_file_for("dev", closed, variant("dev", tmp_path), deployment.workspace.project)
    deployment.workspace.env.pop("DATABRICKS_TOKEN", None)

    preview = deployment.pulumi("preview", timeout=180)

    assert preview.returncode != 0
    assert f"cannot reach the workspace {closed}: connection refused" in preview.stdout
    assert "databricks:host" in preview.stdout and "DATABRICKS_HOST" in preview.stdout
    assert "unexpected" not in preview.stdout + preview.stderr
