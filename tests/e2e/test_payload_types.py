"""Under the real CLI: the stack file's warmup example reaches the workspace with its JSON types."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.engine  # make e2e; make test leaves these out

SENT = '{"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}'
"""Pulumi.dev.yaml's warmup example (`age` a `long` in the emulator's model signature)."""


def test_up_sends_the_warmup_example_with_42_not_42_0_and_records_it_as_that_text(deploy):
    deployment = deploy("dev")

    up = deployment.up()

    assert up.returncode == 0, up.stdout + up.stderr
    sent = deployment.counters()["request_bodies"]["dev-risk-classifier"]
    assert sent and set(sent) == {SENT}
    [readiness] = [
        resource
        for resource in deployment.export()["deployment"]["resources"]
        if resource["type"] == "servingops:index:EndpointReadiness"
    ]
    assert readiness["inputs"]["warmup"]["input_example_json"] == SENT
    assert json.loads(readiness["outputs"]["warmup"]["input_example_json"]) == json.loads(SENT)
