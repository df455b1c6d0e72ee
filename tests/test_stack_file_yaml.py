"""The stack file read as the Pulumi CLI reads it: YAML that would change meaning is refused, with its key path.

The Pulumi CLI decodes stack files with go-yaml v3, the review with PyYAML (YAML 1.1); the reader in
`components/stack_file.py` gives the CLI's values and reports each place where readers disagree or where
the file says something other than it seems to (duplicate keys, `010`, `on`).
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
from pulumi.runtime.config import set_all_config

from components.config import STACK_FILE_VARIABLE, StackConfigError, load_stack_config, parse_stack_config
from components.stack_file import UnreadableStackFileError, parse_stack_text, read_stack_file
from review.__main__ import main
from review.engine import WorkspaceMocks, engine_config, run_program

PROJECT = "databricks-serving"
STACK_FILE = """\
config:
  databricks:host: https://adb-1.azuredatabricks.net
  databricks-serving:defaults:
    name_prefix: prod-
    tags:
      owner: ml-platform
  databricks-serving:endpoints:
    risk:
      served_models:
        - model: main.risk.risk_classifier
          version: 3
          workload_size: Small
          scale_to_zero: false
      access:
        query_service_principal: 8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c
"""


def edited(old: str, new: str) -> str:
    assert old in STACK_FILE
    return STACK_FILE.replace(old, new, 1)


def problems_of(text: str, tmp_path: Path) -> list[str]:
    """What the real program reports for a stack file with this text (as `make review` runs it)."""
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", source=read_stack_file(path))
    return caught.value.problems


def test_the_base_stack_file_is_valid(tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(STACK_FILE)
    names = [r.name for r in run_program("prod", source=read_stack_file(path)).resources]
    assert {"risk", "risk-endpoint", "risk-permissions", "risk-readiness"} <= set(names)


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path):
    text = edited("      access:", "      description: first\n      description: second\n      access:")
    assert problems_of(text, tmp_path) == [
        "endpoints.risk.description: is written twice (lines 14 and 15); YAML readers silently keep the later "
        "one or refuse the file: keep one"
    ]


def test_a_number_with_a_leading_zero_is_refused_as_octal(tmp_path):
    assert problems_of(edited("version: 3", "version: 010"), tmp_path) == [
        "endpoints.risk.served_models[0].version = 010: YAML reads 010 as the octal number 8; write 8, or quote "
        'it ("010") if it is text (line 11)'
    ]


@pytest.mark.parametrize("word", ["on", "off", "yes", "No"])
def test_a_yaml_1_1_boolean_word_is_refused_where_text_is_expected(word, tmp_path):
    assert problems_of(edited("      owner: ml-platform", f"      owner: {word}"), tmp_path) == [
        f"defaults.tags.owner = {word}: is a boolean in YAML 1.1 but text for the Pulumi CLI; write true or "
        f'false, or quote it ("{word}") if it is text (line 6)'
    ]


def test_a_yaml_1_1_boolean_word_is_accepted_where_a_boolean_is_expected(tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(edited("scale_to_zero: false", "scale_to_zero: yes"))
    run = run_program("prod", source=read_stack_file(path))
    (endpoint,) = run.of_type("databricks:index/modelServing:ModelServing")
    assert endpoint.inputs["config"]["servedEntities"][0]["scaleToZeroEnabled"] is True


def test_a_yaml_1_1_boolean_word_as_a_key_is_refused(tmp_path):
    (problem,) = problems_of(edited("      owner: ml-platform", "      owner: ml-platform\n      on: call"), tmp_path)
    assert problem.startswith("defaults.tags.on = on: is a boolean in YAML 1.1 but text for the Pulumi CLI")


def test_a_date_is_read_as_text_as_the_pulumi_cli_reads_it():
    stack = parse_stack_text(edited("      owner: ml-platform", "      since: 2024-01-01"), Path("Pulumi.prod.yaml"))
    assert stack.problems == []
    assert stack.document["config"]["databricks-serving:defaults"]["tags"] == {"since": "2024-01-01"}


def test_a_date_where_a_number_is_expected_is_a_config_problem_not_a_crash(tmp_path):
    assert problems_of(edited("version: 3", "version: 2024-01-01"), tmp_path) == [
        "endpoints.risk.served_models[0].version = '2024-01-01': must be a positive integer, written as 3 or \"3\""
    ]


@pytest.mark.parametrize(
    "written, rule",
    [
        ("1:30", 'is a base-60 number in YAML 1.1 but text for the Pulumi CLI; quote it ("1:30")'),
        (
            "0o17",
            "the Pulumi CLI reads 0o17 as the number 15, other YAML readers as text; write 15, or quote it "
            '("0o17") if it is text',
        ),
        (
            "1e3",
            "the Pulumi CLI reads 1e3 as the number 1000.0, other YAML readers as text; write 1000.0, or quote "
            'it ("1e3") if it is text',
        ),
    ],
)
def test_a_number_yaml_readers_disagree_on_is_refused(written, rule, tmp_path):
    (problem,) = problems_of(edited("      owner: ml-platform", f"      owner: {written}"), tmp_path)
    assert problem == f"defaults.tags.owner = {written}: {rule} (line 6)"


def test_a_float_as_the_pulumi_cli_writes_it_is_read_as_the_number(tmp_path):
    # `pulumi stack init` and `pulumi config set` save the stack file again: 0.000001 comes back as 1e-06.
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(edited("      owner: ml-platform", "      owner: 1e-06"))
    stack = read_stack_file(path)
    assert stack.problems == []
    assert stack.document["config"]["databricks-serving:defaults"]["tags"]["owner"] == 1e-06


def test_a_yaml_tag_is_refused(tmp_path):
    (problem,) = problems_of(edited("      owner: ml-platform", "      owner: !!binary bWwtcGxhdGZvcm0="), tmp_path)
    assert problem == (
        "defaults.tags.owner: the YAML tag `!!binary` is not supported in a stack file; write plain values (line 6)"
    )


def test_an_empty_key_is_refused(tmp_path):
    (problem,) = problems_of(edited("      owner: ml-platform", "      ~: ml-platform"), tmp_path)
    assert problem == ("defaults.tags.~: a key is empty (null); write the key's name, quoted if need be (line 6)")


def test_a_quoted_value_means_the_same_to_every_reader():
    stack = parse_stack_text(edited("      owner: ml-platform", '      owner: "on"\n      team: "010"'), Path("x"))
    assert stack.problems == []
    assert stack.document["config"]["databricks-serving:defaults"]["tags"] == {"owner": "on", "team": "010"}


def test_a_file_that_is_not_utf8_cannot_be_read(tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_bytes(STACK_FILE.replace("ml-platform", "ml-plätform").encode("latin-1"))
    with pytest.raises(UnreadableStackFileError) as caught:
        read_stack_file(path)
    assert str(caught.value) == f"{path} is not UTF-8 text (byte 0xe4 on line 6); save it as UTF-8"


def test_a_config_that_is_not_a_map_is_a_config_problem(tmp_path):
    assert problems_of("config:\n  - databricks-serving:endpoints\n", tmp_path) == [
        "config: must be a map of keys to values (`databricks-serving:endpoints: ...`), not a list"
    ]


def test_yaml_problems_come_with_every_other_problem_of_the_file(tmp_path):
    text = edited("version: 3", "version: 010").replace("workload_size: Small", "workload_size: Huge")
    assert [problem.split(" ")[0] for problem in problems_of(text, tmp_path)] == [
        "endpoints.risk.served_models[0].version",
        "endpoints.risk.served_models[0].workload_size",
    ]


def test_under_pulumi_up_the_program_checks_its_own_stack_file_and_gives_the_reviews_message(
    tmp_path, monkeypatch, capsys
):
    """`pulumi up`: the engine's values, and Pulumi.<stack>.yaml in the project directory (the cwd)."""
    text = edited("version: 3", "version: 010").replace("      owner: ml-platform", "      owner: off")
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)  # both name the file as seen from the project directory
    status = main(["prod", "--stack-file", "Pulumi.prod.yaml"])
    review_message = capsys.readouterr().err.strip()

    monkeypatch.delenv(STACK_FILE_VARIABLE, raising=False)
    # What the CLI hands the program: namespaced keys, structured values as JSON.
    values, secret_keys = engine_config(parse_stack_text(text, Path("Pulumi.prod.yaml")).document, PROJECT)
    pulumi.runtime.set_mocks(WorkspaceMocks(), project=PROJECT, stack="prod", preview=True)
    set_all_config(values, secret_keys)
    with pytest.raises(StackConfigError) as under_up:
        load_stack_config()
    assert status == 2
    assert str(under_up.value) == review_message
    assert len(under_up.value.problems) == 2


def test_without_a_stack_file_the_values_are_still_checked():
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config("prod", {"endpoints": {"risk": {}}})
    assert caught.value.problems == [
        "endpoints.risk.access: is required",
        "endpoints.risk: declare served_models (registered models) or external_models",
    ]


def test_the_reader_is_what_the_review_uses_for_the_repos_stacks(stack_documents):
    for stack, document in stack_documents.items():
        read = read_stack_file(Path(__file__).resolve().parent.parent / f"Pulumi.{stack}.yaml")
        assert (stack, read.problems, read.document) == (stack, [], document)


def test_an_alias_inside_itself_cannot_be_read():
    with pytest.raises(UnreadableStackFileError) as caught:
        parse_stack_text("config:\n  tags: &loop [*loop]\n", Path("Pulumi.prod.yaml"))
    assert str(caught.value) == "Pulumi.prod.yaml nests too deeply (an alias inside itself?)"


def test_aliases_that_expand_beyond_any_stack_file_cannot_be_read():
    levels = ["  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 6)
    ]
    with pytest.raises(UnreadableStackFileError) as caught:
        parse_stack_text("config:\n" + "\n".join(levels) + "\n", Path("Pulumi.prod.yaml"))
    assert str(caught.value) == "Pulumi.prod.yaml holds more than 100000 values once its aliases are expanded"
