"""No credential from the stack config ever reaches outputs or resource inputs in plain text."""

from __future__ import annotations

from typing import Any

import pulumi

from review.engine import is_secret, run_program

TOKEN = "dapi" + "5ec2e7" * 5 + "ab"
CLIENT_SECRET = "dose" + "c1e47" * 6


def plaintext_leaks(value: Any, secrets: list[str], path: str = "") -> list[str]:
    """Paths where a secret appears in a value that is not marked secret."""
    if is_secret(value):
        return []
    if isinstance(value, dict):
        return [leak for key, item in value.items() for leak in plaintext_leaks(item, secrets, f"{path}.{key}")]
    if isinstance(value, list):
        return [leak for i, item in enumerate(value) for leak in plaintext_leaks(item, secrets, f"{path}[{i}]")]
    return [path] if any(secret in str(value) for secret in secrets) else []


def run_with_credentials(stack: str):
    return run_program(stack, secret_values={"databricks:token": TOKEN, "databricks:clientSecret": CLIENT_SECRET})


def test_stack_outputs_hold_no_credential_in_plain_text():
    for stack in ("dev", "prod"):
        run = run_with_credentials(stack)
        assert plaintext_leaks(run.outputs, [TOKEN, CLIENT_SECRET]) == []


def test_resource_inputs_hold_no_credential_in_plain_text():
    for stack in ("dev", "prod"):
        run = run_with_credentials(stack)
        for resource in run.resources:
            assert plaintext_leaks(resource.inputs, [TOKEN, CLIENT_SECRET]) == [], resource.name


def test_the_leak_check_catches_a_plaintext_export_and_accepts_a_secret_one():
    """Guards the two tests above: a program exporting the token in clear would fail them."""
    leaked = {"endpoint": {"auth": TOKEN}, "safe": pulumi.runtime.rpc.wrap_rpc_secret(TOKEN)}
    assert plaintext_leaks(leaked, [TOKEN]) == [".endpoint.auth"]
