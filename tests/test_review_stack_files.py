"""Which stack file `python -m review` reads, and that it names that file: a stack that has no
`Pulumi.<stack>.yaml` yet (adopted) is reviewed from `--stack-file`, and a pull request that deletes a stack
file is reviewed as destroying every endpoint of the stack."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from review.engine import PROJECT_DIR
from tests.support import review

DEV_ENDPOINT = "dev-risk-classifier"


def git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=review", "-c", "user.email=review@example.com", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def deleted_dev(tmp_path_factory) -> Path:
    """A git copy of the project whose working tree has deleted Pulumi.dev.yaml since HEAD."""
    checkout = tmp_path_factory.mktemp("deleted")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, checkout / name)
    for package in ("components", "serving", "review", "policy"):
        shutil.copytree(PROJECT_DIR / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__"))
    git(checkout, "init", "--quiet")
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "dev and prod")
    (checkout / "Pulumi.dev.yaml").unlink()
    return checkout


@pytest.fixture
def adopted_file(tmp_path) -> Path:
    """An adopted stack's file, not yet copied into the project as Pulumi.adopted.yaml."""
    path = tmp_path / "adopted-stack.yaml"
    shutil.copy(PROJECT_DIR / "Pulumi.dev.yaml", path)
    return path


def test_a_stack_without_a_stack_file_in_the_project_is_reviewed_from_stack_file(adopted_file):
    status, out, err = review("adopted", "--stack-file", str(adopted_file))
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"Stack adopted ({adopted_file}) declares:"
    assert f"risk-classifier: {DEV_ENDPOINT} serves risk_classifier v4 100%" in out


def test_a_stack_without_a_stack_file_and_no_stack_file_option_is_a_usage_error_naming_the_option():
    status, _, err = review("adopted")
    assert status == 2
    assert "invalid choice: 'adopted'" in err
    assert "a stack without Pulumi.adopted.yaml is reviewed with --stack-file PATH" in err


def test_a_stack_name_that_is_a_path_is_a_usage_error():
    status, _, err = review("../prod", "--stack-file", "Pulumi.prod.yaml")
    assert status == 2
    assert "'../prod' is not a stack name" in err


def test_validation_problems_name_the_stack_file_read(adopted_file):
    adopted_file.write_text(adopted_file.read_text().replace("served_models:", "served_modelz:", 1))
    status, _, err = review("adopted", "--stack-file", str(adopted_file))
    assert status == 2
    assert err.splitlines()[0] == f"{adopted_file} has 2 configuration problems; nothing was declared:"


def test_a_stack_file_option_naming_no_file_says_which_path(tmp_path):
    missing = tmp_path / "Pulumi.prod.yaml"
    status, _, err = review("prod", "--stack-file", str(missing))
    assert (status, err.strip()) == (2, f"cannot read the stack file {missing}: No such file or directory")


def test_a_yaml_error_in_json_mode_names_the_stack_file_read(tmp_path):
    broken = tmp_path / "proposed.yaml"
    broken.write_text("config:\n  databricks-serving:endpoints: [unclosed\n")
    status, out, _ = review("prod", "--json", "--stack-file", str(broken))
    message = json.loads(out)["error"]["message"]
    assert status == 2
    assert message.startswith(f"{broken} is not valid YAML:")
    assert f'in "{broken}", line 3' in message


def test_a_deleted_stack_file_is_reviewed_as_destroying_every_endpoint(deleted_dev):
    status, out, err = review("dev", "--against", "HEAD", project_dir=deleted_dev)
    assert (status, err) == (0, "")
    heading, line = out.splitlines()[:2]
    assert heading.startswith(
        "Stack dev: Pulumi.dev.yaml is deleted, so every endpoint of the stack would be destroyed (changes from HEAD ("
    )
    assert line == f"  risk-classifier: removed (endpoint {DEV_ENDPOINT} is deleted)"
    assert "to the working tree, which has no Pulumi.dev.yaml: 7 removed" in out


def test_a_deleted_stack_file_in_json_says_deleted_and_lists_every_resource_removed(deleted_dev):
    status, out, _ = review("dev", "--against", "HEAD", "--json", project_dir=deleted_dev)
    document = json.loads(out)
    assert (status, document["exit_code"], document["stack_file_deleted"]) == (0, 0, True)
    assert document["resources"] == []
    assert document["summary"] == [f"risk-classifier: removed (endpoint {DEV_ENDPOINT} is deleted)"]
    assert {change["change"] for change in document["diff"]["resources"]} == {"removed"}
    assert len(document["diff"]["resources"]) == 7


def test_a_deleted_stack_file_in_markdown_heads_the_comment_with_the_deletion(deleted_dev, tmp_path):
    full = tmp_path / "full.md"
    status, out, _ = review(
        "dev", "--against", "HEAD", "--markdown", "--markdown-full", str(full), project_dir=deleted_dev
    )
    lines = out.splitlines()
    assert status == 0
    assert lines[0].startswith(
        "### Stack dev: Pulumi.dev.yaml is deleted, so every endpoint of the stack would be destroyed"
    )
    assert lines[2] == f"- **risk-classifier**: removed (endpoint {DEV_ENDPOINT} is deleted)"
    # The resource tree goes to the full review, not the bounded comment.
    assert "<details><summary>Resources of Pulumi.dev.yaml (deleted)</summary>" not in lines
    assert "<details><summary>Resources of Pulumi.dev.yaml (deleted)</summary>" in full.read_text().splitlines()


def test_a_stack_file_absent_in_the_tree_and_at_the_revision_is_exit_2(deleted_dev):
    status, _, err = review("staging", "--against", "HEAD", project_dir=deleted_dev)
    assert (status, err.strip()) == (
        2,
        "stack staging has no Pulumi.staging.yaml, neither in the working tree "
        "nor at HEAD; with --stack-file PATH another file is reviewed",
    )
