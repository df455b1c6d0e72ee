"""`python -m rollback` under the real engine: a rollout to a candidate, then the rollback, then the live split,
the config updates it took, and a clean preview; and a stable version removed at promotion, added back from
the stack file's git history."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rollback.local import LocalEngine
from rollback.plan import plan_rollback
from rollback.run import EXIT_OK, apply
from tests.e2e.support import Deployment, endpoints_of, short_bakes, variant

pytestmark = pytest.mark.engine  # make e2e; make test leaves these out

ENDPOINT = "prod-risk-classifier"
CONFIG_UPDATE = "PUT /api/2.0/serving-endpoints/{name}/config"
ROLLED_BACK = {"risk_classifier-3": 100, "risk_classifier-4": 0}


def config_updates(deployment: Deployment) -> int:
    return int(deployment.counters()["api_calls"].get(CONFIG_UPDATE, 0))


def roll_back(deployment: Deployment, source: Path) -> int:
    """The rollback as `python -m rollback prod risk-classifier --local` runs it, on this test's workspace."""
    plan = plan_rollback("prod", source, "risk-classifier")
    return apply(plan, source, LocalEngine(deployment.workspace, source), say=print).status


def test_a_rollback_puts_all_traffic_on_the_stable_in_one_config_update_and_leaves_no_drift(deploy, tmp_path):
    deployment = deploy("prod", short_bakes())
    assert deployment.up().returncode == 0
    assert deployment.traffic(ENDPOINT) == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    before = config_updates(deployment)

    status = roll_back(deployment, tmp_path / "Pulumi.prod.yaml")

    assert status == EXIT_OK
    assert deployment.traffic(ENDPOINT) == ROLLED_BACK
    assert config_updates(deployment) - before == 1
    assert deployment.pulumi("preview", "--expect-no-changes").returncode == 0


def promoted(data: dict) -> None:
    """Version 4 promoted: version 3, the traffic split and the rollout block removed."""
    endpoint = endpoints_of(data)["risk-classifier"]
    endpoint["served_models"] = [model for model in endpoint["served_models"] if model["version"] == 4]
    del endpoint["traffic"], endpoint["rollout"]


def git(directory: Path, *args: str) -> None:
    identity = ["-c", "user.name=rollback-test", "-c", "user.email=rollback@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=directory, check=True, capture_output=True)


def test_a_stable_removed_at_promotion_is_re_provisioned_from_the_stack_files_history(deploy, tmp_path):
    history = tmp_path / "history"
    history.mkdir()
    git(history, "init", "--quiet")
    for edit in (short_bakes(traffic={"risk_classifier-3": 0, "risk_classifier-4": 100}), promoted):
        variant("prod", history, edit)
        git(history, "add", "Pulumi.prod.yaml")
        git(history, "commit", "--quiet", "-m", "a change")
    deployment = deploy("prod", promoted)
    assert deployment.up().returncode == 0
    assert deployment.traffic(ENDPOINT) == {"risk_classifier-4": 100}

    status = roll_back(deployment, history / "Pulumi.prod.yaml")

    assert status == EXIT_OK
    assert deployment.traffic(ENDPOINT) == ROLLED_BACK
    served = {entity["name"] for entity in deployment.endpoint(ENDPOINT)["config"]["served_entities"]}
    assert served == {"risk_classifier-3", "risk_classifier-4"}
    assert deployment.pulumi("preview", "--expect-no-changes").returncode == 0
