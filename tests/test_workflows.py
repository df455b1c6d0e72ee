"""The GitHub workflows: a pull request's code gets only the read-only preview principal's secrets, the deployer's
secrets are used only after merge in protected environments, and a stack file the PR deletes is still reviewed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
DEPLOYER_SECRETS = {
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
}


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def secrets_used(name: str) -> set[str]:
    return set(re.findall(r"secrets\.([A-Za-z0-9_]+)", (WORKFLOWS / name).read_text()))


def test_the_pull_request_workflow_uses_no_secret_of_the_deployer():
    used = secrets_used("pull-request.yml")
    assert used & DEPLOYER_SECRETS == set()
    assert {"DATABRICKS_PREVIEW_CLIENT_ID", "DATABRICKS_PREVIEW_CLIENT_SECRET", "PULUMI_PREVIEW_ACCESS_TOKEN"} <= used


def test_the_pull_request_workflow_runs_in_no_environment_and_never_on_pull_request_target():
    document = workflow("pull-request.yml")
    assert list(document[True]) == ["pull_request"]  # YAML 1.1 reads the key `on` as True
    assert [job for job, spec in document["jobs"].items() if "environment" in spec] == []


def test_the_deployer_secrets_are_used_only_by_the_deploy_job_in_the_stacks_environment():
    deploy = workflow("deploy.yml")
    assert deploy[True]["push"] == {"branches": ["main"]}
    assert [job["with"]["stack"] for job in deploy["jobs"].values()] == ["dev", "prod"]
    assert deploy["jobs"]["prod"]["needs"] == "dev"
    up = workflow("deploy-stack.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    assert secrets_used("deploy-stack.yml") == DEPLOYER_SECRETS


def stacks_script() -> str:
    steps = workflow("pull-request.yml")["jobs"]["stacks"]["steps"]
    return next(step["run"] for step in steps if step.get("id") == "stacks")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_stack_file_deleted_by_the_pull_request_is_reviewed_and_its_preview_skipped(tmp_path):
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    git("init", "-q")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.old.yaml"):
        (tmp_path / name).write_text("config: {}\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    base = git("rev-parse", "HEAD")
    git("rm", "-q", "Pulumi.old.yaml")
    (tmp_path / "Pulumi.staging.yaml").write_text("config: {}\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "head")
    outputs = tmp_path / "outputs"
    done = subprocess.run(
        ["bash", "-c", stacks_script()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "BASE": base, "GITHUB_OUTPUT": str(outputs)},
        check=True,
    )
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert json.loads(values["reviewed"]) == ["dev", "old", "prod", "staging"]
    assert json.loads(values["previewed"]) == ["dev", "prod", "staging"]
    assert done.stdout.splitlines() == [
        "::notice::Pulumi.old.yaml is deleted by this pull request: the offline review reports what that removes; "
        "pulumi preview cannot run for stack old without its stack file, so it is skipped."
    ]
