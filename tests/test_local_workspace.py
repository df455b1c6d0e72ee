"""The local workspace's project copy: the stack file as written, pointed at the emulator, the engine's salt kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_workspace.workspace import LocalWorkspaceError, prepare_project, stack_file_for

STACK = """\
# a comment the engine would keep
config:
  databricks:host: https://adb-1.azuredatabricks.net
  databricks-serving:defaults:
    name_prefix: dev-
"""


def test_the_copy_is_the_stack_file_with_the_emulator_as_host(tmp_path: Path):
    source = tmp_path / "Pulumi.dev.yaml"
    source.write_text(STACK)
    copy = stack_file_for("dev", "http://127.0.0.1:18080", source, tmp_path / "project")
    assert copy.read_text() == STACK.replace("https://adb-1.azuredatabricks.net", "http://127.0.0.1:18080")


def test_the_salt_the_engine_wrote_into_the_copy_is_kept_when_it_is_made_again(tmp_path: Path):
    source = tmp_path / "Pulumi.dev.yaml"
    source.write_text(STACK)
    project = tmp_path / "project"
    copy = stack_file_for("dev", "http://127.0.0.1:18080", source, project)
    copy.write_text(copy.read_text() + "encryptionsalt: v1:abc=:v1:def\n")  # what `pulumi stack init` adds

    again = stack_file_for("dev", "http://127.0.0.1:18080", source, project)

    assert again.read_text().endswith("    name_prefix: dev-\nencryptionsalt: v1:abc=:v1:def\n")


def test_a_stack_file_without_a_host_gets_the_emulators(tmp_path: Path):
    source = tmp_path / "Pulumi.dev.yaml"
    source.write_text("config:\n  databricks-serving:defaults: {}\n")
    copy = stack_file_for("dev", "http://127.0.0.1:18080", source, tmp_path / "project")
    assert copy.read_text().startswith("config:\n  databricks:host: http://127.0.0.1:18080\n")


def test_a_missing_stack_file_names_the_stacks_there_are(tmp_path: Path):
    with pytest.raises(LocalWorkspaceError) as caught:
        stack_file_for("qa", "http://127.0.0.1:18080", tmp_path / "Pulumi.qa.yaml", tmp_path / "project")
    assert "Pulumi.qa.yaml: no such stack file" in str(caught.value)
    assert "Pulumi.dev.yaml" in str(caught.value) and "Pulumi.prod.yaml" in str(caught.value)


def test_the_project_links_to_the_program_and_a_baseline_can_replace_its_main(tmp_path: Path):
    baseline = tmp_path / "bare.py"
    baseline.write_text("")
    project = prepare_project(tmp_path / "project", program=baseline)
    assert (project / "__main__.py").resolve() == baseline.resolve()
    assert (project / "Pulumi.yaml").is_symlink() and (project / "provider").is_symlink()
