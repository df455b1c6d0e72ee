"""Whole floats the Pulumi CLI hands the program as ints (`1200.0` -> 1200) are floats again, from the file."""

from __future__ import annotations

from pathlib import Path

from components.written_numbers import with_written_number_types, written_config


def test_an_int_the_file_writes_as_the_same_float_is_that_float_again():
    engine = {"data": [[1200, 42, 58000]], "tolerance": 1}
    written = {"data": [[1200.0, 42, 58000.0]], "tolerance": 1}

    restored = with_written_number_types(engine, written)

    assert restored == {"data": [[1200.0, 42, 58000.0]], "tolerance": 1}
    assert [type(value) for value in restored["data"][0]] == [float, int, float]


def test_values_that_differ_from_the_file_or_are_not_numbers_stay_the_engines():
    engine = {"a": 1200, "b": True, "c": "1200", "d": [1, 2], "e": {"secure": None}, "f": 7}
    written = {"a": 1300.0, "b": 1.0, "c": 1200.0, "d": [1.0], "e": {"secure": "v1:..."}}

    assert with_written_number_types(engine, written) == engine


def test_the_project_keys_of_a_stack_file_are_read_without_their_namespace(tmp_path: Path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(
        "config:\n  databricks:host: https://x\n  databricks-serving:endpoints:\n    risk: {example: [1200.0]}\n",
        encoding="utf-8",
    )

    assert written_config(stack_file, "databricks-serving") == {"endpoints": {"risk": {"example": [1200.0]}}}
    assert written_config(tmp_path / "missing.yaml", "databricks-serving") == {}
    assert written_config(None, "databricks-serving") == {}
