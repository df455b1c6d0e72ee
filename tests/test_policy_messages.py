"""Every policy finding tells the user what to edit in terms of the stack file, never of the API.

A fix such as "set scale_to_zero_enabled to false" names a field of pulumi-databricks' ModelServing that no
stack file has; the stack file's key is `endpoints.<key>.served_models[<i>].scale_to_zero`. Each rule is made to
fire on resources shaped as the component declares them; no message may hold a multi-word API field name
(snake_case or camelCase) that is not also a stack key.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi_databricks
from pydantic import BaseModel

from components.config import StackConfig
from policy.rules import RULES, evaluate
from tests.support import endpoint, group, permissions, readiness, served, service_principal, user

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MULTI_WORD = re.compile(r"_|[a-z][A-Z]")


def stack_keys(model: type[BaseModel] = StackConfig) -> set[str]:
    """Every key a stack file can hold under this project's namespace, at any depth."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        for nested in _models_in(field.annotation):
            keys |= stack_keys(nested)
    return keys


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _models_in(argument)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def api_field_names() -> set[str]:
    """Field names of pulumi-databricks' ModelServing and Permissions inputs, snake_case and camelCase."""
    names: set[str] = set()
    for class_name in dir(pulumi_databricks):
        if class_name.startswith(("ModelServing", "Permissions")) and class_name.endswith("Args"):
            parameters = inspect.signature(getattr(pulumi_databricks, class_name).__init__).parameters
            names |= {name for name in parameters if name not in ("self", "__self__")}
    return names | {camel(name) for name in names}


USER_MAPS = {"environmentVars"}
"""Props whose keys are the user's own names (an environment variable), not API fields."""


def property_names(value: Any) -> set[str]:
    """Every property name in a resource's props, as the rules read them (the plugin's resources too)."""
    if isinstance(value, Mapping):
        return set(value) | {
            name for key, item in value.items() if key not in USER_MAPS for name in property_names(item)
        }
    if isinstance(value, list):
        return {name for item in value for name in property_names(item)}
    return set()


def violating_resources():
    """Resources that break every rule at least once, as the component would declare them."""
    gone_to_zero = served("risk-3", scale_to_zero=True, environmentVars={"API_TOKEN": "plain-text-value"})
    unset = served("risk-4", scale_to_zero=None, size=None, environmentVars={"DB_PASSWORD": "{{secrets/only}}"})
    from_zero = served("risk-5", size=None, minProvisionedConcurrency=0, maxProvisionedConcurrency=8)
    registry = {"name": "Legacy-1", "entityName": "Legacy", "entityVersion": "1", "workloadSize": "Small"}
    risk = endpoint(
        entities=[gone_to_zero, unset, from_zero, registry],
        routes={"risk-3": 90, "risk-4": 20.5, "nowhere": 0},
        tags={"owner": ""},
    )
    fraud = endpoint("fraud", entities=[served("fraud-1"), served("fraud-2")], routes={})
    chat = endpoint("chat", entities=[{"name": "gpt-4o", "externalModel": {"name": "gpt-4o", "provider": "openai"}}])
    grants = permissions(
        service_principal(),
        {"servicePrincipalName": "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b", "permissionLevel": "CAN_MANAGE"},
        group("analysts", "CAN_QUERY"),
        group("users", "CAN_VIEW"),
        group("admins"),
        user("ana@example.com", "CAN_VIEW"),
    )
    return [risk, fraud, chat, grants, readiness(endpoint_name="prod-other")]


def test_every_rule_fires_on_the_violating_resources():
    verdicts = evaluate(violating_resources(), "prod")
    silent = [verdict.rule.name for verdict in verdicts if verdict.passed]
    # The advisory access rule reports only on a lenient stack: the strict one has the same grants mandatory.
    assert silent == ["serving-endpoint-access-advisory"]
    assert len(verdicts) == len(RULES)


def test_no_finding_names_an_api_field_that_is_not_a_stack_key():
    resources = violating_resources()
    api_only = (api_field_names() | {name for r in resources for name in property_names(r.props)}) - stack_keys()
    api_only = {name for name in api_only if MULTI_WORD.search(name)}
    assert {"scale_to_zero_enabled", "scaleToZeroEnabled", "min_provisioned_concurrency", "endpoint_name"} <= api_only
    messages = [finding.message for verdict in evaluate(resources, "prod") for finding in verdict.findings]
    leaked = {(word, message) for message in messages for word in IDENTIFIER.findall(message) if word in api_only}
    assert leaked == set()


def test_every_finding_names_the_stack_file_entry_to_edit():
    messages = [finding.message for verdict in evaluate(violating_resources(), "prod") for finding in verdict.findings]
    assert [message for message in messages if "`endpoints." not in message] == []
