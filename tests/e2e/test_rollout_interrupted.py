"""A traffic change under the real engine: its rollout's steps, Ctrl-C during a bake, the CLI killed mid-rollout."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.e2e.support import Deployment, short_bakes

pytestmark = pytest.mark.engine  # make e2e; make test leaves these out

ENDPOINT = "prod-risk-classifier"
START = {"risk_classifier-3": 90, "risk_classifier-4": 10}
HALF = {"risk_classifier-3": 50, "risk_classifier-4": 50}


def rollout_steps(deployment) -> list[int]:
    (rollout,) = [
        r for r in deployment.export()["deployment"]["resources"] if r["type"] == "servingops:index:EndpointRollout"
    ]
    return [step["share"] for step in rollout["outputs"]["report"]["steps"]]


def test_a_traffic_change_walks_the_rollout_steps_and_is_recorded(deploy, tmp_path):
    deployment = deploy("prod", short_bakes())
    assert deployment.up().returncode == 0

    deployment.edit(short_bakes(traffic=HALF), tmp_path)
    up = deployment.up()

    assert up.returncode == 0, up.stdout
    assert deployment.traffic(ENDPOINT) == HALF
    assert rollout_steps(deployment) == [10, 50]  # the live 10% judged again, then 50%
    assert "50% to risk_classifier-4" in up.stdout
    assert deployment.pulumi("preview", "--expect-no-changes").returncode == 0


def up_baking_at_half(deploy, tmp_path, output: int | None) -> tuple[Deployment, subprocess.Popen]:
    """Prod deployed at 90/10, then a `pulumi up` to 50/50 with a long bake, in that bake when this returns."""
    deployment = deploy("prod", short_bakes())
    assert deployment.up().returncode == 0
    deployment.edit(short_bakes(seconds=60, traffic=HALF), tmp_path)
    cli = deployment.workspace.popen(
        "up",
        "--yes",
        "--skip-preview",
        stdout=output,
        stderr=subprocess.STDOUT if output == subprocess.PIPE else output,
    )
    deployment.wait_for_traffic(ENDPOINT, HALF)  # the 50% step serves: its bake has begun
    return deployment, cli


def test_ctrl_c_during_a_bake_puts_traffic_back_and_the_next_up_completes(deploy, tmp_path):
    deployment, cli = up_baking_at_half(deploy, tmp_path, subprocess.PIPE)
    cli.send_signal(signal.SIGINT)
    output, _ = cli.communicate(timeout=60)

    assert cli.returncode != 0
    assert deployment.traffic(ENDPOINT) == START  # the last good split
    assert deployment.endpoint(ENDPOINT)["state"]["config_update"] == "NOT_UPDATING"
    assert "stopped by a cancellation (Ctrl-C); traffic is back on the last good split" in output, output
    assert "Traceback" not in output
    assert not deployment.export()["deployment"].get("pending_operations")

    deployment.edit(short_bakes(traffic=HALF), tmp_path)
    up = deployment.up()
    assert up.returncode == 0, up.stdout
    assert deployment.traffic(ENDPOINT) == HALF


def test_the_cli_killed_mid_rollout_then_refresh_and_up_end_with_traffic_as_declared(deploy, tmp_path):
    deployment, cli = up_baking_at_half(deploy, tmp_path, subprocess.DEVNULL)
    cli.kill()
    cli.wait(timeout=30)
    # The plugin notices its engine is gone and puts the last good split back on its own.
    deployment.wait_for_traffic(ENDPOINT, START, timeout=60)

    # A killed CLI leaves its lock on the stack: `pulumi cancel` removes it, as the CLI's message says.
    locked = deployment.pulumi("refresh", "--yes", "--skip-preview")
    assert locked.returncode != 0 and "the stack is currently locked" in locked.stderr
    cancel = deployment.pulumi("cancel", "--yes")
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    refresh = deployment.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
    assert refresh.returncode == 0, refresh.stdout + refresh.stderr
    deployment.edit(short_bakes(traffic=HALF), tmp_path)
    up = deployment.up()
    assert up.returncode == 0, up.stdout
    assert deployment.traffic(ENDPOINT) == HALF
    assert not deployment.export()["deployment"].get("pending_operations")
