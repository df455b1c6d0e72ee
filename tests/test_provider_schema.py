"""The program's typed resources send exactly what the plugin's schema declares, no more, no less."""

from __future__ import annotations

import pytest

from provider.implementations import KINDS
from provider.schema import SCHEMA
from review.engine import unwrap
from tests.support import STACKS

PLUGIN_TYPES = sorted(SCHEMA["resources"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_input_the_program_sends_is_in_the_schema_and_every_required_one_is_sent(stack, stack_runs):
    for resource in stack_runs[stack].resources:
        if resource.type in SCHEMA["resources"]:
            schema = SCHEMA["resources"][resource.type]
            sent = {key for key, value in unwrap(resource.inputs).items() if value is not None}
            assert sent <= set(schema["inputProperties"]), (resource.name, sent - set(schema["inputProperties"]))
            assert set(schema["requiredInputs"]) <= sent, resource.name


@pytest.mark.parametrize("token", PLUGIN_TYPES)
def test_every_resource_type_of_the_schema_is_served_and_watches_only_its_own_inputs(token):
    kind = KINDS[token]
    assert set(kind.watched) <= set(SCHEMA["resources"][token]["inputProperties"])
    assert set(kind.computed) <= set(SCHEMA["resources"][token]["properties"])


def test_the_provider_configuration_marks_its_credentials_secret():
    inputs = SCHEMA["provider"]["inputProperties"]
    assert {name for name, prop in inputs.items() if prop.get("secret")} == {"token", "clientSecret"}
