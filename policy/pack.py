"""The policy pack's policies: each rule of `policy.rules`, wrapped for pulumi_policy.

Only adapts: pulumi_policy's arguments become `rules.Resource` values (plain dicts and lists, unknowns as
`rules.UNKNOWN`), a rule's messages become `report_violation` calls. Importing this module starts nothing;
`policy/__main__.py` hands `policies()` to `PolicyPack`, which serves them to the engine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from components.config import PolicySettings
from policy.rules import RULES, UNKNOWN, Resource, Rule, stack_policy_from_config

PACK_NAME = "databricks-serving-guardrails"


def stack_from_environment() -> str:
    """The stack being previewed: the CLI starts the pack with PULUMI_STACK set ('' if it did not)."""
    return os.environ.get("PULUMI_STACK", "")


def stack_policy_from_environment() -> PolicySettings:
    """The stack file's `policy` section: the pack gets the stack's config as the program gets it, JSON in
    PULUMI_CONFIG (set by the language host from the engine's policy proxy since v3.274.0; by the CLI's
    `analyzer_plugin.go` constructEnv in older releases)."""
    try:
        config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    except ValueError:
        config = {}
    return stack_policy_from_config(config if isinstance(config, Mapping) else {})


def plain(value: Any) -> Any:
    """`value` with pulumi_policy's proxies turned into dicts and lists, and unknowns into `UNKNOWN`.

    pulumi_policy raises `UnknownValueError` on reading a value not known during preview; turning it into
    a marker lets a rule skip that one value instead of the whole policy being skipped.
    """
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def resource_from_validation(args: ResourceValidationArgs) -> Resource:
    """A resource under validation (its inputs), as the rules see it."""
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        parent=(args.opts.parent or "") if args.opts else "",
        props=plain(args.props),
    )


def resource_from_stack(resource: PolicyResource) -> Resource:
    """A resource of the stack under validation (its outputs), as the rules see it."""
    parent = resource.parent.urn if resource.parent is not None else (resource.opts.parent or "")
    return Resource(
        type=resource.resource_type, name=resource.name, urn=resource.urn, parent=parent, props=plain(resource.props)
    )


def policy_for(
    rule: Rule,
    stack_name: Callable[[], str] = stack_from_environment,
    stack_policy: Callable[[], PolicySettings] = stack_policy_from_environment,
) -> Policy:
    """`rule` as a pulumi_policy policy: a stack validation for a stack-wide rule, else a resource one."""
    level = EnforcementLevel(rule.enforcement.value)
    schema = PolicyConfigSchema(properties=rule.config_schema()) if rule.options else None

    if rule.stack_wide:

        def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            options = rule.options_from(stack_name(), args.get_config(), stack_policy())
            resources = [resource_from_stack(resource) for resource in args.resources]
            for finding in rule.findings(resources, options):
                report_violation(finding.message, finding.urn)

        return StackValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=validate_stack,
            enforcement_level=level,
            config_schema=schema,
        )

    def validate_resource(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        options = rule.options_from(stack_name(), args.get_config(), stack_policy())
        for finding in rule.findings([resource_from_validation(args)], options):
            report_violation(finding.message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate_resource,
        enforcement_level=level,
        config_schema=schema,
    )


def policies(
    stack_name: Callable[[], str] = stack_from_environment,
    stack_policy: Callable[[], PolicySettings] = stack_policy_from_environment,
) -> list[Policy]:
    """Every rule of `policy.rules`, in order, as the pack serves it."""
    return [policy_for(rule, stack_name, stack_policy) for rule in RULES]
