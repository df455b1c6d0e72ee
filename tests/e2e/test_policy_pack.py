"""`pulumi preview --policy-pack policy` under the real CLI: our language host starts the pack (RunPlugin) with
the project's virtualenv and the stack it judges, and the CLI reports the pack's verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from local_workspace.workspace import ROOT
from tests.e2e.support import endpoints_of

pytestmark = pytest.mark.engine  # make e2e; make test leaves these out

SUPPORT_USER = "support@example.com"


def grant_to_support(data: dict) -> None:
    """The risk classifier also lets a person view it: beyond the secure default, a finding on every stack."""
    access = endpoints_of(data)["risk-classifier"]["access"]
    access["grants"] = [{"user": SUPPORT_USER, "level": "CAN_VIEW"}]


def output_of(done) -> str:
    return done.stdout + done.stderr


def test_a_grant_beyond_the_default_on_the_strict_prod_stack_fails_the_preview_naming_rule_and_key(deploy):
    deployment = deploy("prod", grant_to_support)

    preview = deployment.pulumi("preview", "--policy-pack", "policy")

    output = output_of(preview)
    assert preview.returncode != 0, output
    assert "[mandatory]  serving-endpoint-access" in output, output
    assert f"grants CAN_VIEW to user `{SUPPORT_USER}`" in output, output
    assert "`endpoints.risk-classifier.access.grants`" in output, output
    assert "method RunPlugin not implemented" not in output
    assert "Traceback" not in output


def test_the_same_grant_on_dev_is_advisory_as_its_stack_policy_says_and_the_preview_passes(deploy):
    # Dev's stack file accepts grants beyond the default as advisory: the pack saw the stack's own config.
    deployment = deploy("dev", grant_to_support)

    preview = deployment.pulumi("preview", "--policy-pack", "policy")

    output = output_of(preview)
    assert preview.returncode == 0, output
    assert "[advisory]  serving-endpoint-access-advisory" in output, output
    assert "accepted on this stack by `policy.grants_beyond_default: advisory`" in output, output
    assert "[mandatory]" not in output, output


def test_the_dev_stack_as_committed_passes_every_policy(deploy):
    deployment = deploy("dev")

    preview = deployment.pulumi("preview", "--policy-pack", "policy")

    output = output_of(preview)
    assert preview.returncode == 0, output
    assert "databricks-serving-guardrails@v0.1.0 (local: policy)" in output, output
    assert "[mandatory]" not in output and "[advisory]" not in output, output


def pack_with_virtualenv(directory: Path, virtualenv: str) -> Path:
    """A copy of the policy pack whose PulumiPolicy.yaml declares `virtualenv`."""
    pack = directory / "pack"
    shutil.copytree(ROOT / "policy", pack, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = pack / "PulumiPolicy.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "virtualenv: ../venv" in text
    manifest.write_text(text.replace("virtualenv: ../venv", f"virtualenv: {virtualenv}"), encoding="utf-8")
    return pack


def test_a_pack_declaring_a_missing_virtualenv_fails_naming_its_manifest_and_the_option(deploy, tmp_path):
    deployment = deploy("dev")
    pack = pack_with_virtualenv(tmp_path, "no-such-venv")

    preview = deployment.pulumi("preview", "--policy-pack", str(pack))

    output = output_of(preview)
    assert preview.returncode != 0, output
    assert f'{pack / "PulumiPolicy.yaml"}: runtime option virtualenv "no-such-venv"' in output, output
    assert "not a virtual environment" in output, output
    assert deployment.endpoint_names() == []
