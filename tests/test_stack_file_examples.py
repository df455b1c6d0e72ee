"""Every broken stack file from issue 10, through `python -m review` as a user runs it.

Each example gets exit status 2 (an invalid stack file, never 1, which means a policy violation), a message
naming the key path, and no traceback.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from review.engine import PROJECT_DIR

STACK_FILE = """\
config:
  databricks:host: https://adb-1.azuredatabricks.net
  databricks-serving:defaults:
    name_prefix: dev-
    tags:
      owner: ml-platform
  databricks-serving:endpoints:
    risk:
      served_models:
        - model: main.risk.risk_classifier
          version: 3
          workload_size: Small
        - model: main.risk.risk_classifier
          version: 4
          workload_size: Small
      traffic:
        risk_classifier-3: 90
        risk_classifier-4: 10
      access:
        query_service_principal: 8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c
"""
PRINCIPAL = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"
TABLE = "catalog: main, schema: logs, table_prefix: risk.v1"
SIZE_OF_FIRST = "workload_size: Small\n        - model"


def edited(*changes: tuple[str, str]) -> str:
    text = STACK_FILE
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


ROLLOUT = (
    "      rollout:\n        stable: risk_classifier-3\n        candidate: risk_classifier-9\n        steps: [10]\n"
    "        parity: {examples: [{instances: [[1]]}]}\n"
)

# name -> (stack file text or bytes, key paths the message must name)
EXAMPLES: dict[str, tuple[str | bytes, list[str]]] = {
    "an empty endpoint key": (edited(("    risk:\n", '    "":\n')), ['endpoints."":']),
    "a config that is not a map": ("config:\n  - databricks-serving:endpoints\n", ["config:"]),
    "a date where a version is expected": (
        edited(("version: 3", "version: 2024-01-01")),
        ["endpoints.risk.served_models[0].version ="],
    ),
    "a stack file that is not UTF-8": (
        STACK_FILE.replace("ml-platform", "ml-plätform").encode("latin-1"),
        ["is not UTF-8 text (byte 0xe4 on line 6)"],
    ),
    "routes checked while another field fails": (
        edited(
            (SIZE_OF_FIRST, "workload_size: Huge\n        - model"), ("risk_classifier-4: 10", "risk_classifier-5: 10")
        ),
        ["endpoints.risk.served_models[0].workload_size =", "endpoints.risk.traffic ="],
    ),
    "the endpoint name with its prefix checked while another field fails": (
        edited(
            ("    risk:\n", "    risk:\n      name: " + "r" * 60 + "\n"),
            (SIZE_OF_FIRST, "workload_size: Huge\n        - model"),
        ),
        ["endpoints.risk.served_models[0].workload_size =", "endpoints.risk: name `dev-rrrr"],
    ),
    "a rollout naming its entities checked while another field fails": (
        edited((SIZE_OF_FIRST, "workload_size: Huge\n        - model")) + ROLLOUT,
        ["endpoints.risk.served_models[0].workload_size =", "endpoints.risk.rollout: risk_classifier-9 names no"],
    ),
    "a plaintext credential while endpoints cannot be parsed": (
        "config:\n  databricks:token: dapi-plain\n  databricks-serving:endpoints:\n    - risk\n",
        ["databricks:token: is stored in plain text", 'endpoints = ["risk"]: must be a map of keys to values'],
    ),
    "a misspelt key of the project's namespace": (
        edited(("databricks-serving:defaults:", "databricks-serving:default:")),
        ["databricks-serving:default: unknown key, nothing reads it; did you mean `databricks-serving:defaults`?"],
    ),
    "a duplicate key": (
        edited(("        risk_classifier-4: 10\n", "        risk_classifier-4: 10\n        risk_classifier-3: 0\n")),
        ["endpoints.risk.traffic.risk_classifier-3: is written twice"],
    ),
    "010 read as octal 8": (edited(("version: 3", "version: 010")), ["endpoints.risk.served_models[0].version = 010"]),
    "on read as a boolean where a string is expected": (
        edited(("      owner: ml-platform", "      owner: on")),
        ["defaults.tags.owner = on"],
    ),
    "yes read as a boolean where a name is expected": (
        edited(("    name_prefix: dev-", "    name_prefix: yes")),
        ["defaults.name_prefix = yes"],
    ),
    "off read as a boolean where a string is expected": (
        edited((SIZE_OF_FIRST, "workload_size: Small\n          environment_vars: {DEBUG: off}\n        - model")),
        ["endpoints.risk.served_models[0].environment_vars.DEBUG = off"],
    ),
    "azureClientSecret in plain text": (
        edited(("  databricks:host:", "  databricks:azureClientSecret: s3cr3t\n  databricks:host:")),
        ["databricks:azureClientSecret: is stored in plain text"],
    ),
    "password in plain text": (
        edited(("  databricks:host:", "  databricks:password: hunter2\n  databricks:host:")),
        ["databricks:password: is stored in plain text"],
    ),
    "googleCredentials in plain text": (
        edited(("  databricks:host:", '  databricks:googleCredentials: \'{"type": "sa"}\'\n  databricks:host:')),
        ["databricks:googleCredentials: is stored in plain text"],
    ),
    "an environment variable name that is not a valid name": (
        edited((SIZE_OF_FIRST, "workload_size: Small\n          environment_vars: {MY-VAR: '1'}\n        - model")),
        ["endpoints.risk.served_models[0].environment_vars.MY-VAR: is not an environment variable name"],
    ),
    "a tag key beyond Databricks' limit": (
        edited(("      owner: ml-platform", "      owner: ml-platform\n      " + "k" * 256 + ": x")),
        ['defaults.tags."kkkkkkkkkkkkkkkkkkkk...(256 characters)": tag keys are at most 255 characters'],
    ),
    "a tag value beyond Databricks' limit": (
        edited(("      owner: ml-platform", "      owner: " + "v" * 256)),
        ["defaults.tags.owner = 'vvvv"],
    ),
    "an inference-table prefix that is not a Unity Catalog name": (
        edited(("      access:", f"      inference_table: {{{TABLE}}}\n      access:")),
        ["endpoints.risk.inference_table.table_prefix = 'risk.v1': must be a Unity Catalog name"],
    ),
    "an internal class name in the message": (
        edited((f"      access:\n        query_service_principal: {PRINCIPAL}\n", "      access: []\n")),
        ["endpoints.risk.access = []: must be a map of keys to values, not a list"],
    ),
    "a number where a string is meant, shown, not hidden": (
        edited((SIZE_OF_FIRST, "workload_size: Small\n          environment_vars: {THRESHOLD: 0.82}\n        - model")),
        [
            "endpoints.risk.served_models[0].environment_vars.THRESHOLD = 0.82: must be text, not a number; "
            'YAML read it as a number: quote it ("0.82")'
        ],
    ),
    "a readiness timeout of 0": (
        edited(("      access:", "      readiness: {timeout_minutes: 0}\n      access:")),
        ["endpoints.risk.readiness.timeout_minutes = 0: Input should be greater than 0"],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_of_the_issue_exits_2_with_its_key_path(name, tmp_path):
    text, paths = EXAMPLES[name]
    stack_file = tmp_path / "proposed.yaml"
    stack_file.write_bytes(text if isinstance(text, bytes) else text.encode())
    completed = subprocess.run(
        [sys.executable, "-m", "review", "dev", "--stack-file", str(stack_file)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (completed.returncode, completed.stdout) == (2, ""), completed.stderr
    assert "Traceback" not in completed.stderr
    for path in paths:
        assert path in completed.stderr
    assert [secret for secret in ("s3cr3t", "hunter2", "dapi-plain") if secret in completed.stderr] == []


def test_the_examples_are_all_valid_once_repaired(tmp_path):
    """The base file itself passes, so each example fails for its own reason."""
    stack_file = tmp_path / "proposed.yaml"
    stack_file.write_text(STACK_FILE)
    from review.__main__ import main

    assert main(["dev", "--stack-file", str(stack_file)]) == 0
