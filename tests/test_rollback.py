"""`python -m rollback`: the stack file rewritten as a round trip (comments kept, exactly these lines changed),
the last good version chosen from the rollout block or the stack file's git history, every refusal before
anything changes, and the verification after `pulumi up` (live split, clean preview) with its exit statuses."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollback.__main__ import main
from rollback.plan import RollbackInputError, plan_rollback
from rollback.run import EXIT_DRIFT, EXIT_INVALID, EXIT_MEANINGS, EXIT_OK, EXIT_UP_FAILED, apply

ROLLING_OUT = """\
# Prod stack: values only.
config:
  databricks:host: https://adb-1.azuredatabricks.net
  databricks-serving:defaults:
    name_prefix: prod-
  databricks-serving:endpoints:
    risk-classifier:
      served_models:
        # The stable version.
        - {model: main.risk.risk_classifier, version: 3, workload_size: Medium, scale_to_zero: false}
        - model: main.risk.risk_classifier
          version: 4  # the candidate
          workload_size: Medium
      # Version 4 takes 10% for now.
      traffic: {risk_classifier-3: 90, risk_classifier-4: 10}
      rollout:
        stable: risk_classifier-3
        candidate: risk_classifier-4
        steps: [10, 50, 100]
        bake_minutes: 15
        health:
          max_error_rate: 0.01
      access:
        query_service_principal: 8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c
      readiness:
        warmup:
          input_example:
            dataframe_split: {columns: [amount, age, income], data: [[1200.0, 42, 58000.0]]}
"""

PROMOTED = """\
# Prod stack: values only.
config:
  databricks:host: https://adb-1.azuredatabricks.net
  databricks-serving:defaults:
    name_prefix: prod-
  databricks-serving:endpoints:
    risk-classifier:
      served_models:
        - model: main.risk.risk_classifier
          version: 4  # promoted
          workload_size: Medium
      access:
        query_service_principal: 8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c
"""


def stack_file(directory: Path, text: str) -> Path:
    path = directory / "Pulumi.prod.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def git(directory: Path, *args: str) -> None:
    identity = ["-c", "user.name=rollback-test", "-c", "user.email=rollback@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=directory, check=True, capture_output=True)


def committed(directory: Path, *texts: str) -> Path:
    """A git repository whose Pulumi.prod.yaml went through `texts`, one commit each; the file holds the last."""
    git(directory, "init", "--quiet")
    for number, text in enumerate(texts):
        path = stack_file(directory, text)
        git(directory, "add", path.name)
        git(directory, "commit", "--quiet", "-m", f"revision {number}")
    return directory / "Pulumi.prod.yaml"


# --- the rewrite ----------------------------------------------------------------------------------------


def test_a_rollback_puts_all_traffic_on_the_rollouts_stable_and_changes_nothing_else(tmp_path):
    plan = plan_rollback("prod", stack_file(tmp_path, ROLLING_OUT), "risk-classifier")

    assert plan.target == "risk_classifier-3"
    assert plan.why == "the rollout's stable entity"
    assert plan.endpoint == "prod-risk-classifier"
    assert plan.routes == {"risk_classifier-3": 100, "risk_classifier-4": 0}
    assert plan.after == ROLLING_OUT.replace(
        "traffic: {risk_classifier-3: 90, risk_classifier-4: 10}",
        "traffic: {risk_classifier-3: 100, risk_classifier-4: 0}",
    )


def test_rolling_back_to_the_candidate_swaps_the_rollout_so_the_other_share_moves_down_ungated(tmp_path):
    plan = plan_rollback("prod", stack_file(tmp_path, ROLLING_OUT), "prod-risk-classifier", to="risk_classifier-4")

    assert plan.after == ROLLING_OUT.replace(
        "traffic: {risk_classifier-3: 90, risk_classifier-4: 10}",
        "traffic: {risk_classifier-3: 0, risk_classifier-4: 100}",
    ).replace(
        "        stable: risk_classifier-3\n        candidate: risk_classifier-4\n",
        "        stable: risk_classifier-4\n        candidate: risk_classifier-3\n",
    )


def test_a_removed_stable_is_added_back_from_the_last_revision_with_a_rollout_block(tmp_path):
    path = committed(tmp_path, ROLLING_OUT, PROMOTED)

    plan = plan_rollback("prod", path, "risk-classifier")

    assert plan.target == "risk_classifier-3"
    assert plan.restored is not None and plan.restored.position == 0
    assert plan.why.startswith("the rollout's stable entity at ") and "no longer served: added back" in plan.why
    assert plan.after == PROMOTED.replace(
        "      served_models:\n",
        "      served_models:\n"
        "        - model: main.risk.risk_classifier\n"
        "          version: 3\n"
        "          workload_size: Medium\n"
        "          scale_to_zero: false\n",
    ).replace(
        "      access:\n",
        "      traffic:\n        risk_classifier-3: 100\n        risk_classifier-4: 0\n      access:\n",
    )


def test_to_names_an_entity_of_an_older_revision(tmp_path):
    older = ROLLING_OUT.replace("version: 3,", "version: 2,").replace("risk_classifier-3", "risk_classifier-2")
    path = committed(tmp_path, older, ROLLING_OUT, PROMOTED)

    plan = plan_rollback("prod", path, "risk-classifier", to="risk_classifier-2")

    assert plan.target == "risk_classifier-2"
    assert plan.routes == {"risk_classifier-2": 100, "risk_classifier-4": 0}
    assert "version: 2\n" in plan.after


# --- refusals, before anything changes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "to", "message"),
    [
        ("fraud", None, "the stack has no endpoint `fraud` (endpoints: risk-classifier (prod-risk-classifier))"),
        (
            "risk-classifier",
            "risk_classifier-9",
            "`risk_classifier-9` is not a served entity of `risk-classifier` (served: risk_classifier-3, "
            "risk_classifier-4), and Pulumi.prod.yaml is not tracked by git",
        ),
    ],
)
def test_an_unknown_endpoint_or_entity_is_refused_naming_what_exists(tmp_path, endpoint, to, message):
    with pytest.raises(RollbackInputError) as refused:
        plan_rollback("prod", stack_file(tmp_path, ROLLING_OUT), endpoint, to)
    assert str(refused.value).startswith(message)


def test_without_a_rollout_block_or_history_the_entity_must_be_named(tmp_path):
    path = committed(tmp_path, PROMOTED)
    with pytest.raises(RollbackInputError) as refused:
        plan_rollback("prod", path, "risk-classifier")
    assert str(refused.value) == (
        "`risk-classifier` has no `rollout` block to name its stable entity, and no committed revision of "
        "Pulumi.prod.yaml (the last 200) declares a `rollout` block (whose `stable` is the last good version) "
        "for endpoint `risk-classifier`: name the entity with --to"
    )


def test_an_invalid_stack_file_is_refused_with_every_problem(tmp_path):
    text = ROLLING_OUT.replace("workload_size: Medium", "workload_size: Huge").replace("steps: [10", "steps: [0")
    with pytest.raises(RollbackInputError) as refused:
        plan_rollback("prod", stack_file(tmp_path, text), "risk-classifier")
    message = str(refused.value)
    assert "has configuration problems" in message
    assert "workload_size" in message and "steps" in message


def test_the_command_exits_2_and_leaves_the_stack_file_as_it_was(tmp_path, capsys):
    path = stack_file(tmp_path, ROLLING_OUT)
    status = main(["prod", "risk-classifier", "--to", "nope", "--stack-file", str(path)])
    assert status == EXIT_INVALID
    assert path.read_text(encoding="utf-8") == ROLLING_OUT
    assert "rollback: `nope` is not a served entity" in capsys.readouterr().err


def test_a_dry_run_shows_the_change_and_writes_nothing(tmp_path, capsys):
    path = stack_file(tmp_path, ROLLING_OUT)
    assert main(["prod", "risk-classifier", "--dry-run", "--stack-file", str(path)]) == EXIT_OK
    shown = capsys.readouterr().out
    assert "-      traffic: {risk_classifier-3: 90, risk_classifier-4: 10}" in shown
    assert "+      traffic: {risk_classifier-3: 100, risk_classifier-4: 0}" in shown
    assert path.read_text(encoding="utf-8") == ROLLING_OUT


# --- after the rewrite: pulumi up, then proof -----------------------------------------------------------------


class RecordingEngine:
    """The engine's side as the rollback sees it: pulumi's exit statuses and the live endpoint, recorded calls."""

    def __init__(self, statuses: dict[str, int], routes: dict[str, int], updating: bool = False):
        self.statuses, self.routes, self.updating = statuses, routes, updating
        self.calls: list[tuple[str, ...]] = []

    def sync(self) -> None:
        self.calls.append(("sync",))

    def pulumi(self, *args: str) -> int:
        self.calls.append(args)
        return self.statuses.get(args[0], 0)

    def endpoint(self, name: str) -> dict[str, Any] | None:
        routes = [{"served_model_name": n, "traffic_percentage": s} for n, s in self.routes.items()]
        state = {"config_update": "IN_PROGRESS" if self.updating else "NOT_UPDATING"}
        return {"name": name, "state": state, "config": {"traffic_config": {"routes": routes}}}


ROLLED_BACK = {"risk_classifier-3": 100, "risk_classifier-4": 0}


def test_apply_writes_the_file_deploys_then_checks_the_live_split_and_a_clean_preview(tmp_path):
    path = stack_file(tmp_path, ROLLING_OUT)
    plan = plan_rollback("prod", path, "risk-classifier")
    engine = RecordingEngine({}, ROLLED_BACK)

    outcome = apply(plan, path, engine, say=lambda line: None)

    assert outcome.status == EXIT_OK, outcome.message
    assert path.read_text(encoding="utf-8") == plan.after
    assert engine.calls == [("sync",), ("up", "--yes", "--skip-preview"), ("preview", "--expect-no-changes")]


@pytest.mark.parametrize(
    ("statuses", "routes", "updating", "status", "message"),
    [
        ({"up": 255}, ROLLED_BACK, False, EXIT_UP_FAILED, "`pulumi up` failed"),
        ({}, {"risk_classifier-3": 90, "risk_classifier-4": 10}, False, EXIT_DRIFT, "serves {'risk_classifier-3': 90"),
        ({}, ROLLED_BACK, True, EXIT_DRIFT, "an update is still running"),
        ({"preview": 255}, ROLLED_BACK, False, EXIT_DRIFT, "`pulumi preview --expect-no-changes` found changes"),
    ],
)
def test_a_failed_up_or_any_disagreement_afterwards_has_its_own_exit_status(
    tmp_path, statuses, routes, updating, status, message
):
    path = stack_file(tmp_path, ROLLING_OUT)
    plan = plan_rollback("prod", path, "risk-classifier")

    outcome = apply(plan, path, RecordingEngine(statuses, routes, updating), say=lambda line: None)

    assert outcome.status == status
    assert message in outcome.message


# --- make rollback --------------------------------------------------------------------------------------------


def test_make_rollback_prints_the_commands_own_status_and_its_meaning(tmp_path):
    from tests.support import make, status_lines

    path = stack_file(tmp_path, ROLLING_OUT)
    done = make("rollback", "STACK=prod", "ENDPOINT=risk-classifier", f"ARGS=--to nope --stack-file {path}")
    assert status_lines(done) == [f"rollback exited 2: {EXIT_MEANINGS[EXIT_INVALID]}"]
    assert done.returncode == 2  # GNU make's own status for any failed recipe
    assert path.read_text(encoding="utf-8") == ROLLING_OUT


def test_the_makefile_states_every_failing_status_as_the_command_documents_it():
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text(encoding="utf-8")
    (line,) = [line for line in makefile.splitlines() if line.startswith("ROLLBACK_STATUSES")]
    for status, meaning in EXIT_MEANINGS.items():
        assert f'{status}) why="{meaning}" ;;' in line


def test_a_plaintext_credential_is_refused_and_never_shown(tmp_path, capsys):
    text = ROLLING_OUT.replace("config:\n", "config:\n  databricks:token: dapi0123456789abcdef\n")
    path = stack_file(tmp_path, text)
    assert main(["prod", "risk-classifier", "--dry-run", "--stack-file", str(path)]) == EXIT_INVALID
    shown = capsys.readouterr()
    assert "databricks:token: is stored in plain text" in shown.err
    assert "dapi0123456789abcdef" not in shown.out + shown.err


def test_without_a_workspace_to_check_afterwards_nothing_is_changed(tmp_path, monkeypatch, capsys):
    for name in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    text = ROLLING_OUT.replace("  databricks:host: https://adb-1.azuredatabricks.net\n", "")
    path = stack_file(tmp_path, text)
    assert main(["prod", "risk-classifier", "--stack-file", str(path)]) == EXIT_INVALID
    assert "rollback: no Databricks workspace host: set databricks:host" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == text
