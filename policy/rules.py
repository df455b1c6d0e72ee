"""The guardrails of serving endpoints, as plain functions over declared resources.

One set of rules, two callers: the policy pack (`pulumi preview --policy-pack policy`, through `policy.pack`)
and the offline review (`python -m review <stack>`, through `review.policy_check`). Both adapt what they
see to `Resource` — type, name, URN, parent URN and properties in the provider's camelCase, as the engine
sees them — so a rule never knows which of the two called it.

Rules look at declared resources only, never at a stack file: they also guard resources that another
program, or a change to this one, declares. The stack config model (`components.config`) refuses most of
these problems earlier, at load time; this is the second line. Limits and patterns are imported from it so
that both lines agree.

A value that is not known yet (during `pulumi preview`, an output of a resource still to be created) is
`UNKNOWN`; a rule never reports a violation on a value it cannot see.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from components.config import (
    ADMINS_GROUP,
    ALL_USERS_GROUPS,
    PROJECT,
    SECRET_REFERENCE_PATTERN,
    FindingLevel,
    PermissionLevel,
    PolicySettings,
    is_plaintext_credential,
)

MODEL_SERVING = "databricks:index/modelServing:ModelServing"
PERMISSIONS = "databricks:index/permissions:Permissions"
ENDPOINT_READINESS = "servingops:index:EndpointReadiness"
"""The readiness check's type: a resource of the servingops plugin declared next to (same parent as) its endpoint."""
ALERT_V2 = "databricks:index/alertV2:AlertV2"


class Enforcement(StrEnum):
    """What a violation does: `mandatory` fails the preview (and the review), `advisory` only warns."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


class _Unknown:
    """A value the engine does not know yet (preview of a resource still to be created)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Stands in for any value not known yet; the adapters put it where the engine has an unknown."""


class PolicyConfigError(ValueError):
    """The policy configuration names an unknown rule or option, or gives an option the wrong type."""


@dataclass(frozen=True)
class Resource:
    """A declared resource as the rules see it, whoever declared it."""

    type: str
    """Type token, e.g. `databricks:index/modelServing:ModelServing`."""
    name: str
    """The resource's Pulumi name, e.g. `risk-classifier-endpoint`."""
    urn: str
    parent: str
    """URN of the parent resource; '' at stack level."""
    props: Mapping[str, Any]
    """Properties in the provider's camelCase (`config.servedEntities[].scaleToZeroEnabled`), plain values."""


@dataclass(frozen=True)
class Finding:
    """One violation of a rule, attached to the resource to fix."""

    resource: str
    """Name of the resource in violation."""
    urn: str
    message: str
    """What is wrong, naming the resource, and how to fix it. Never holds a secret value."""


# --------------------------------------------------------------------------------------------------
# Options: what a policy config may set per rule (same format for the pack and the review)

OPTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "prod_stacks": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["prod"],
        "description": "Stack names (glob patterns allowed, e.g. `prod-*`) whose endpoints are prod endpoints.",
    },
    "prod_environments": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["prod"],
        "description": "Values of an endpoint's `environment` tag that make it a prod endpoint on any stack.",
    },
    "required_tags": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["owner", "cost-center", "environment"],
        "description": "Tag keys every serving endpoint must carry, with a non-empty value.",
    },
}
"""JSON schema of every rule option; the defaults below come from here."""


def _default(option: str) -> tuple[str, ...]:
    return tuple(OPTION_SCHEMAS[option]["default"])


@dataclass(frozen=True)
class Options:
    """What a rule may depend on besides the resources: the stack's name and its configured options."""

    stack: str = ""
    """The stack being previewed or reviewed ('' when not known)."""
    prod_stacks: tuple[str, ...] = field(default_factory=lambda: _default("prod_stacks"))
    prod_environments: tuple[str, ...] = field(default_factory=lambda: _default("prod_environments"))
    required_tags: tuple[str, ...] = field(default_factory=lambda: _default("required_tags"))
    stack_policy: PolicySettings = field(default_factory=PolicySettings)
    """The stack file's `policy` section (strict by default): how broad grants are reported."""


STACK_POLICY_KEY = f"{PROJECT}:policy"
"""The stack config key of the policy section, as the engine hands config to a program and to a policy pack."""


def stack_policy_from_config(config: Mapping[str, Any]) -> PolicySettings:
    """The stack's policy section from its config as the engine hands it over (key -> JSON text).

    A section that is missing or invalid gives the strict defaults: the program refuses an invalid one before
    anything is declared, and a guardrail must not loosen because its settings cannot be read.
    """
    raw = config.get(STACK_POLICY_KEY)
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        return PolicySettings.model_validate(value) if isinstance(value, Mapping) else PolicySettings()
    except (ValueError, ValidationError):
        return PolicySettings()


# --------------------------------------------------------------------------------------------------
# Reading properties


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | float | None:
    # The engine hands numbers over as floats (90.0); a whole float is the integer a user wrote.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if float(value).is_integer() else value


def _endpoint(resource: Resource) -> str:
    """`endpoint `prod-risk` (risk-endpoint)`: the workspace name a reader knows, and the Pulumi name."""
    name = _text(resource.props.get("name"))
    return f"endpoint `{name}` ({resource.name})" if name else f"endpoint {resource.name}"


def _stack_key(resource: Resource, suffix: str) -> str:
    """`endpoints.<key>`: the stack file entry that declares `resource` (this project names its resources
    `<key>-endpoint`, `<key>-permissions`); `endpoints.<key>` itself for a resource declared elsewhere."""
    key = resource.name[: -len(suffix)] if resource.name.endswith(suffix) else ""
    return f"endpoints.{key}" if key else "endpoints.<key>"


def _entry(resource: Resource) -> str:
    return _stack_key(resource, "-endpoint")


def _tags(resource: Resource) -> dict[str, Any] | None:
    tags = resource.props.get("tags")
    if tags is UNKNOWN:
        return None
    return {
        tag["key"]: tag.get("value")
        for tag in (tags or [])
        if isinstance(tag, Mapping) and isinstance(tag.get("key"), str)
    }


@dataclass(frozen=True)
class _ServedEntity:
    name: Any
    """The served entity's name (`str`), or UNKNOWN."""
    props: Mapping[str, Any]
    index: int
    """Position among the endpoint's served entities: its index in the stack file's `served_models`."""


def _served_name(entity: Mapping[str, Any], model_key: str, version_key: str) -> Any:
    name = entity.get("name")
    if name is not None:
        return name
    model, version = entity.get(model_key), entity.get(version_key)
    if model is UNKNOWN or version is UNKNOWN:
        return UNKNOWN
    # Databricks' default, as in components.config.ServedModelConfig.served_name.
    return f"{str(model).rsplit('.', 1)[-1]}-{version}"


def _served_entities(resource: Resource) -> list[_ServedEntity] | None:
    """The endpoint's served entities (and legacy served models); None when not known yet."""
    config = resource.props.get("config")
    if config is UNKNOWN:
        return None
    if not isinstance(config, Mapping):
        return []
    entities: list[_ServedEntity] = []
    for key, model_key, version_key in (
        ("servedEntities", "entityName", "entityVersion"),
        ("servedModels", "modelName", "modelVersion"),
    ):
        items = config.get(key)
        if items is UNKNOWN:
            return None
        for item in items or []:
            if isinstance(item, Mapping):
                entities.append(_ServedEntity(_served_name(item, model_key, version_key), item, len(entities)))
    return entities


def is_prod(resource: Resource, options: Options) -> bool:
    """A prod endpoint: on a stack named in `prod_stacks`, or tagged `environment` in `prod_environments`.

    The stack name covers this project's stacks; the tag covers an endpoint declared by any other program
    or stack (`prod-eu`, a one-off) that says it is prod.
    """
    if options.stack and any(fnmatch.fnmatchcase(options.stack, pattern) for pattern in options.prod_stacks):
        return True
    environment = (_tags(resource) or {}).get("environment")
    return isinstance(environment, str) and environment in options.prod_environments


# --------------------------------------------------------------------------------------------------
# Rules on one resource: (resource, options) -> messages


class Breadth(StrEnum):
    """How a grant goes beyond the secure default access, and so which stack policy setting judges it."""

    BEYOND_DEFAULT = "grants_beyond_default"
    WORKSPACE_WIDE = "workspace_wide_grants"
    REFUSED = "refused"
    """Never applies (the permissions API refuses it): mandatory whatever the stack says."""


@dataclass(frozen=True)
class BroadGrant:
    """A grant of a serving endpoint's Permissions beyond the secure default."""

    breadth: Breadth
    message: str


def broad_grants(resource: Resource, options: Options) -> list[BroadGrant]:
    """Every grant broader than the secure default: one service principal with CAN_QUERY, groups with CAN_MANAGE.

    The first service principal with CAN_QUERY is the query principal (this project declares it first); any
    other grant is beyond the default: another query principal, a service principal at another level, a
    group below CAN_MANAGE, any grant to a user (their access ends with their account, and calls made with a
    person's token break with it), any grant to `users` / `account users` (everybody in the workspace).
    """
    if resource.type != PERMISSIONS or "servingEndpointId" not in resource.props:
        return []  # Permissions of a job, a cluster, ...: not this rule's business.
    controls = resource.props.get("accessControls")
    if not isinstance(controls, Sequence) or isinstance(controls, str):
        return []
    subject = f"Permissions {resource.name} (serving endpoint)"
    declared_in = f"`{_stack_key(resource, '-permissions')}.access.grants`"
    found: list[BroadGrant] = []
    query_principal_seen = False
    for grant in controls:
        if not isinstance(grant, Mapping):
            continue
        level = grant.get("permissionLevel")
        group, user = grant.get("groupName"), grant.get("userName")
        service_principal = grant.get("servicePrincipalName")
        if UNKNOWN in (level, group, user, service_principal):
            continue
        broad = _group_or_user_grant(subject, declared_in, level, group, user)
        if broad is None and service_principal is not None:
            if level == PermissionLevel.CAN_QUERY and not query_principal_seen:
                query_principal_seen = True  # the one query principal of the secure default
                continue
            broad = _service_principal_grant(subject, level, service_principal)
        if broad is not None:
            found.append(broad)
    return [
        BroadGrant(grant.breadth, grant.message + _broad_grant_fix(grant.breadth, declared_in, options))
        for grant in found
    ]


def _group_or_user_grant(subject: str, declared_in: str, level: Any, group: Any, user: Any) -> BroadGrant | None:
    """A grant to a group or a user beyond the secure default (groups hold CAN_MANAGE, persons nothing)."""
    if isinstance(group, str) and group.strip().lower() == ADMINS_GROUP:
        return BroadGrant(
            Breadth.REFUSED,
            f"{subject}: grants {level} to `{group}`; the permissions API refuses to change the admins' "
            f"permissions (they manage every endpoint already): remove that grant from {declared_in}",
        )
    if isinstance(group, str) and group.strip().lower() in ALL_USERS_GROUPS:
        return BroadGrant(
            Breadth.WORKSPACE_WIDE,
            f"{subject}: grants {level} to `{group}`, a workspace-wide group: everybody in the workspace",
        )
    if group is not None and level != PermissionLevel.CAN_MANAGE:
        return BroadGrant(
            Breadth.BEYOND_DEFAULT,
            f"{subject}: grants {level} to group `{group}`; the secure default gives groups CAN_MANAGE only "
            "and query access to one service principal",
        )
    if user is not None:
        return BroadGrant(
            Breadth.BEYOND_DEFAULT,
            f"{subject}: grants {level} to user `{user}`; the secure default grants nothing to a person "
            "(query access is a service principal's, management a group's)",
        )
    return None


def _service_principal_grant(subject: str, level: Any, service_principal: Any) -> BroadGrant:
    """A service principal's grant other than the one query principal's."""
    what = (
        "another query principal; the secure default has one"
        if level == PermissionLevel.CAN_QUERY
        else "the secure default gives service principals CAN_QUERY only (management is a group's)"
    )
    return BroadGrant(
        Breadth.BEYOND_DEFAULT, f"{subject}: grants {level} to service principal `{service_principal}`; {what}"
    )


def _broad_grant_fix(breadth: Breadth, declared_in: str, options: Options) -> str:
    if breadth is Breadth.REFUSED:
        return ""
    setting = f"policy.{breadth.value}"
    if _level_of(breadth, options) is FindingLevel.ADVISORY:
        return f"; accepted on this stack by `{setting}: advisory`, declared in {declared_in}"
    return (
        f"; remove it from {declared_in}, or accept it on this stack with `{setting}: advisory` in the stack "
        "file (it stays flagged in every review)"
    )


def _level_of(breadth: Breadth, options: Options) -> FindingLevel:
    if breadth is Breadth.REFUSED:
        return FindingLevel.MANDATORY
    return FindingLevel(getattr(options.stack_policy, breadth.value))


def check_endpoint_access(resource: Resource, options: Options) -> list[str]:
    """Grants beyond the secure default that the stack's policy section makes mandatory (all, by default)."""
    return [
        grant.message
        for grant in broad_grants(resource, options)
        if _level_of(grant.breadth, options) is FindingLevel.MANDATORY
    ]


def check_endpoint_access_advisory(resource: Resource, options: Options) -> list[str]:
    """Grants beyond the secure default that the stack accepts (`advisory` in its policy section): still shown."""
    return [
        grant.message
        for grant in broad_grants(resource, options)
        if _level_of(grant.breadth, options) is FindingLevel.ADVISORY
    ]


def check_prod_capacity(resource: Resource, options: Options) -> list[str]:
    """On prod, every served entity keeps capacity: scale-to-zero explicitly off, an explicit size.

    A scaled-down entity meets its next request with a cold start of minutes, and Databricks does not
    guarantee the capacity comes back. An explicit size is `workloadSize`, or a provisioned concurrency
    range whose minimum is above zero.
    """
    if resource.type != MODEL_SERVING or not is_prod(resource, options):
        return []
    messages = []
    for entity in _served_entities(resource) or []:
        if entity.props.get("externalModel") is not None:
            continue  # served by its provider: no capacity of the workspace's to keep
        subject = f"{_endpoint(resource)}, served entity `{entity.name}`"
        served_model = f"{_entry(resource)}.served_models[{entity.index}]"
        scale_to_zero = entity.props.get("scaleToZeroEnabled")
        if scale_to_zero is True:
            messages.append(
                f"{subject}: scales to zero on prod, so a request can meet a cold start of minutes; "
                f"set `{served_model}.scale_to_zero` to false"
            )
        elif scale_to_zero is None:
            messages.append(
                f"{subject}: leaves scale-to-zero unset on prod, so the workspace decides; "
                f"set `{served_model}.scale_to_zero: false` explicitly"
            )
        size = entity.props.get("workloadSize")
        minimum = entity.props.get("minProvisionedConcurrency")
        maximum = entity.props.get("maxProvisionedConcurrency")
        # A foundation model's throughput band or model units is its explicit capacity.
        throughput = (entity.props.get("maxProvisionedThroughput"), entity.props.get("provisionedModelUnits"))
        if UNKNOWN in (size, minimum, maximum) or size or any(value is not None for value in throughput):
            continue
        if minimum is None or maximum is None:
            messages.append(
                f"{subject}: has no explicit workload size on prod; set `{served_model}.workload_size` (Small, "
                f"Medium or Large) or a range `{served_model}.provisioned_concurrency` (min and max)"
            )
        elif _number(minimum) == 0:
            messages.append(
                f"{subject}: provisioned concurrency starts at 0 on prod, which lets it scale to zero; "
                f"raise `{served_model}.provisioned_concurrency.min` to at least 4"
            )
    return messages


def check_traffic_routes(resource: Resource, options: Options) -> list[str]:
    """Routes sum to 100 and give every served entity (and nothing else) exactly one route.

    Without a traffic config Databricks sends everything to the only served entity; with several it must
    be told. A route of 0% is how an entity is kept deployed but idle.
    """
    if resource.type != MODEL_SERVING:
        return []
    entities = _served_entities(resource)
    config = resource.props.get("config")
    if entities is None or not isinstance(config, Mapping):
        return []
    if any(entity.name is UNKNOWN for entity in entities):
        return []
    served = [str(entity.name) for entity in entities]
    traffic = config.get("trafficConfig")
    routes = traffic.get("routes") if isinstance(traffic, Mapping) else traffic
    if routes is UNKNOWN:
        return []
    subject = _endpoint(resource)
    traffic_key = f"`{_entry(resource)}.traffic`"
    if not routes:
        if len(served) > 1:
            return [
                f"{subject}: serves {', '.join(served)} but declares no traffic routes; give each a "
                f"percentage in {traffic_key}, summing to 100"
            ]
        return []

    read = _route_shares(routes)
    if read is None:
        return []
    shares, repeated = read
    return _route_problems(subject, traffic_key, served, shares, repeated)


def _route_shares(routes: Iterable[Any]) -> tuple[dict[str, Any], list[str]] | None:
    """Each route's target and share, and the targets routed more than once; None while one is unknown."""
    shares: dict[str, Any] = {}
    repeated = []
    for route in routes:
        if not isinstance(route, Mapping):
            continue
        target = route.get("servedEntityName", route.get("servedModelName"))
        share = route.get("trafficPercentage")
        if UNKNOWN in (target, share):
            return None
        if target in shares:
            repeated.append(str(target))
        shares[str(target)] = share
    return shares, repeated


def _route_problems(
    subject: str, traffic_key: str, served: list[str], shares: Mapping[str, Any], repeated: list[str]
) -> list[str]:
    messages = []
    invalid = [f"{target}: {share}" for target, share in shares.items() if _percentage(share) is None]
    if invalid:
        messages.append(
            f"{subject}: traffic percentages must be whole numbers 0-100, found {', '.join(invalid)}; fix them in "
            f"{traffic_key}"
        )
    else:
        total = sum(_percentage(share) or 0 for share in shares.values())
        if total != 100:
            split = ", ".join(f"{target}: {_percentage(share)}" for target, share in shares.items())
            messages.append(
                f"{subject}: traffic routes sum to {total}%, not 100% ({split}); make {traffic_key} sum to 100"
            )
    if repeated:
        messages.append(
            f"{subject}: more than one route for {', '.join(repeated)}; keep one route per entity in {traffic_key}"
        )
    missing = [name for name in served if name not in shares]
    if missing:
        messages.append(
            f"{subject}: served entities without a route: {', '.join(missing)}; give each a percentage in "
            f"{traffic_key} (0 keeps an entity deployed but idle)"
        )
    unknown = [target for target in shares if target not in served]
    if unknown:
        messages.append(
            f"{subject}: routes name no served entity: {', '.join(unknown)}; served entities are "
            f"{', '.join(served)}: fix the names in {traffic_key}"
        )
    return messages


def _percentage(value: Any) -> int | None:
    number = _number(value)
    return number if isinstance(number, int) and 0 <= number <= 100 else None


def check_required_tags(resource: Resource, options: Options) -> list[str]:
    """Every endpoint carries the required tags with a value: cost reports and on-call find their owner."""
    if resource.type != MODEL_SERVING:
        return []
    tags = _tags(resource)
    if tags is None:
        return []
    missing = [key for key in options.required_tags if tags.get(key) is None or tags.get(key) == ""]
    if not missing:
        return []
    return [
        f"{_endpoint(resource)}: lacks the required tag{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
        f"add them to `defaults.tags` (every endpoint of the stack) or `{_entry(resource)}.tags`"
    ]


def check_environment_secrets(resource: Resource, options: Options) -> list[str]:
    """Served entities' environment variables hold credentials only as `{{secrets/<scope>/<key>}}`.

    Anyone who can view the endpoint reads its environment variables in clear; a secret reference is
    resolved by Databricks inside the container. The variable's value is never repeated in a message.
    """
    if resource.type != MODEL_SERVING:
        return []
    messages = []
    for entity in _served_entities(resource) or []:
        variables = entity.props.get("environmentVars")
        if not isinstance(variables, Mapping):
            continue
        for key, value in variables.items():
            if not isinstance(value, str):
                continue
            if SECRET_REFERENCE_PATTERN.match(value):
                continue
            subject = f"{_endpoint(resource)}, served entity `{entity.name}`, environment variable {key}"
            where = f"`{_entry(resource)}.served_models[{entity.index}].environment_vars.{key}`"
            if "{{secrets/" in value:
                messages.append(
                    f"{subject}: is a malformed secret reference; write {where} as exactly "
                    "`{{secrets/<scope>/<key>}}`"
                )
            elif is_plaintext_credential(key, value):
                messages.append(
                    f"{subject}: holds a credential in plain text; store it in a Databricks secret scope and "
                    f"write {where} as `{{{{secrets/<scope>/<key>}}}}` instead"
                )
    return messages


def check_prod_rate_limit(resource: Resource, options: Options) -> list[str]:
    """On prod, the endpoint's AI Gateway has an endpoint-wide rate limit (key `endpoint`, no principal).

    Serving capacity is shared: one runaway caller can otherwise take all of the endpoint's, and with it a
    share of the workspace's default 200 queries per second that other endpoints need. Per-caller limits do
    not bound the total. A limit without a key is endpoint-wide (Databricks' default key).
    """
    if resource.type != MODEL_SERVING or not is_prod(resource, options):
        return []
    gateway = resource.props.get("aiGateway")
    if gateway is UNKNOWN:
        return []
    limits = gateway.get("rateLimits") if isinstance(gateway, Mapping) else None
    if limits is UNKNOWN:
        return []
    for limit in limits or []:
        if not isinstance(limit, Mapping):
            continue
        key, principal = limit.get("key"), limit.get("principal")
        if UNKNOWN in (key, principal):
            return []
        if key in (None, "endpoint") and principal is None:
            return []
    return [
        f"{_endpoint(resource)}: has no endpoint-wide rate limit on prod, so one caller can take all of its "
        f"capacity; add an AI Gateway rate limit with key `endpoint`: `{_entry(resource)}.ai_gateway.rate_limits: "
        "[{calls: <calls per minute>}]`"
    ]


def check_prod_external_model_gateway(resource: Resource, options: Options) -> list[str]:
    """On prod, an endpoint serving external models has an AI Gateway rate limit and usage tracking.

    Every call to an external model is billed by its provider per token, and the endpoint passes on whatever
    its callers send: a rate limit bounds the spend, usage tracking (the `system.serving` tables) shows who
    spent it.
    """
    if resource.type != MODEL_SERVING or not is_prod(resource, options):
        return []
    entities = _served_entities(resource)
    if entities is None or not any(entity.props.get("externalModel") is not None for entity in entities):
        return []
    gateway = resource.props.get("aiGateway")
    if gateway is UNKNOWN:
        return []
    gateway = gateway if isinstance(gateway, Mapping) else {}
    limits, tracking = gateway.get("rateLimits"), gateway.get("usageTrackingConfig")
    if UNKNOWN in (limits, tracking):
        return []
    messages = []
    if not limits:
        messages.append(
            f"{_endpoint(resource)}: serves external models on prod without a rate limit, so its callers' "
            f"spend with the provider has no bound; add `{_entry(resource)}.ai_gateway.rate_limits: "
            "[{calls: <calls per minute>}]`"
        )
    if not (isinstance(tracking, Mapping) and tracking.get("enabled") is True):
        messages.append(
            f"{_endpoint(resource)}: serves external models on prod without usage tracking, so nobody sees who "
            f"spends what; set `{_entry(resource)}.ai_gateway.usage_tracking: true`"
        )
    return messages


def check_unity_catalog_models(resource: Resource, options: Options) -> list[str]:
    """Served models come from Unity Catalog (`catalog.schema.model`), not the legacy workspace Model Registry.

    Databricks still serves Model Registry models (`RiskClassifier`, a name without dots), but access control,
    lineage and use across workspaces come with Unity Catalog, which Databricks recommends.
    """
    if resource.type != MODEL_SERVING:
        return []
    messages = []
    for entity in _served_entities(resource) or []:
        model = entity.props.get("entityName", entity.props.get("modelName"))
        if isinstance(model, str) and model and "." not in model:
            messages.append(
                f"{_endpoint(resource)}, served entity `{entity.name}`: serves `{model}` from the legacy "
                "workspace Model Registry; register the model in Unity Catalog and set "
                f"`{_entry(resource)}.served_models[{entity.index}].model` to its `catalog.schema.model`"
            )
    return messages


# --------------------------------------------------------------------------------------------------
# Rules on the whole stack: (resources, options) -> findings


def check_endpoint_readiness(resources: Sequence[Resource], options: Options) -> list[Finding]:
    """Every endpoint has a readiness check next to it (same parent) whose `endpoint_name` is its name.

    Without one, `pulumi up` ends when Databricks accepted the config, not when the endpoint serves.
    """
    readiness_by_parent: dict[str, list[Resource]] = {}
    for resource in resources:
        if resource.type == ENDPOINT_READINESS:
            readiness_by_parent.setdefault(resource.parent, []).append(resource)

    findings = []
    for endpoint in (resource for resource in resources if resource.type == MODEL_SERVING):
        name = endpoint.props.get("name")
        siblings = readiness_by_parent.get(endpoint.parent, [])
        checked = [sibling.props.get("endpoint_name") for sibling in siblings]
        # An unknown name on either side cannot be judged during preview; the update re-runs the rule.
        if any(UNKNOWN in (name, checked_name) or checked_name == name for checked_name in checked):
            continue
        # This project's ServingEndpoint declares the check for every entry of `endpoints`: a finding means
        # the endpoint was declared some other way, so the fix names the resource, and the entry to use.
        entry = f"declare the endpoint as an entry of `endpoints` (`{_entry(endpoint)}`, its settings under "
        entry += f"`{_entry(endpoint)}.readiness`), which comes with its check"
        if not siblings:
            message = (
                f"{_endpoint(endpoint)}: has no readiness check, so `pulumi up` ends before the endpoint serves; "
                f"{entry}, or declare an EndpointReadiness for `{name}` next to it (same parent)"
            )
        else:
            described = ", ".join(
                f"{sibling.name} checks `{sibling.props.get('endpoint_name')}`" for sibling in siblings
            )
            message = (
                f"{_endpoint(endpoint)}: no readiness check next to it checks this endpoint ({described}); "
                f"{entry}, or point that check at `{name}`"
            )
        findings.append(Finding(endpoint.name, endpoint.urn, message))
    return findings


def check_prod_endpoint_alerts(resources: Sequence[Resource], options: Options) -> list[Finding]:
    """Every prod endpoint has an alert: one next to it (same parent), or one whose query names the endpoint.

    A regression after the deploy (latency, errors, traffic gone) otherwise pages nobody; the rollout's health
    gate only watches while the rollout runs.
    """
    alerts = [resource for resource in resources if resource.type == ALERT_V2]
    findings = []
    for endpoint in (r for r in resources if r.type == MODEL_SERVING and is_prod(r, options)):
        name = endpoint.props.get("name")
        queries = [alert.props.get("queryText") for alert in alerts]
        if name is UNKNOWN or UNKNOWN in queries:
            continue
        if any(alert.parent == endpoint.parent and endpoint.parent for alert in alerts) or any(
            isinstance(query, str) and isinstance(name, str) and f"'{name}'" in query for query in queries
        ):
            continue
        findings.append(
            Finding(
                endpoint.name,
                endpoint.urn,
                f"{_endpoint(endpoint)}: has no alert on prod, so a regression after the deploy pages nobody; add "
                f"`{_entry(endpoint)}.monitoring` (a SQL `warehouse` and the `notify` destinations): its latency and "
                "5xx alerts take the rollout's health gate thresholds",
            )
        )
    return findings


# --------------------------------------------------------------------------------------------------
# The rule set

ResourceCheck = Callable[[Resource, Options], list[str]]
StackCheck = Callable[[Sequence[Resource], Options], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A rule with what the pack and the review need to run and show it."""

    name: str
    """Policy name: what a policy config and `pulumi preview` call it."""
    description: str
    """One line; pulumi prints it above each violation message."""
    enforcement: Enforcement
    """Default level; a policy config may override it."""
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    """Exactly one of the two: a rule on each resource, or on the whole stack at once."""
    options: tuple[str, ...] = ()
    """Keys of `OPTION_SCHEMAS` this rule reads from its config."""

    @property
    def stack_wide(self) -> bool:
        return self.stack_check is not None

    def config_schema(self) -> dict[str, dict[str, Any]]:
        """JSON schema properties of this rule's options (for pulumi_policy's PolicyConfigSchema)."""
        return {option: OPTION_SCHEMAS[option] for option in self.options}

    def options_from(
        self, stack: str, config: Mapping[str, Any] | None, stack_policy: PolicySettings | None = None
    ) -> Options:
        """The rule's options: the defaults, overridden by its entry of a policy config; the stack's policy
        section as given (strict when None)."""
        values: dict[str, tuple[str, ...]] = {}
        for key, value in (config or {}).items():
            if key == "enforcementLevel":
                continue
            if key not in self.options:
                takes = f"it takes {', '.join(self.options)}" if self.options else "it takes no options"
                raise PolicyConfigError(f"{self.name}: unknown option `{key}`; {takes}")
            if (
                isinstance(value, str)
                or not isinstance(value, Iterable)
                or not all(isinstance(item, str) for item in value)
            ):
                raise PolicyConfigError(f"{self.name}.{key}: must be a list of strings")
            values[key] = tuple(value)
        return Options(stack=stack, stack_policy=stack_policy or PolicySettings(), **values)

    def findings(self, resources: Sequence[Resource], options: Options) -> list[Finding]:
        """Every violation of this rule among `resources`."""
        if self.stack_check is not None:
            return self.stack_check(resources, options)
        assert self.resource_check is not None
        return [
            Finding(resource.name, resource.urn, message)
            for resource in resources
            for message in self.resource_check(resource, options)
        ]


RULES: tuple[Rule, ...] = (
    Rule(
        name="serving-endpoint-access",
        description="Serving endpoint grants stay within the secure default (one query service principal, "
        "manager groups) unless the stack's policy section accepts more as advisory.",
        enforcement=Enforcement.MANDATORY,
        resource_check=check_endpoint_access,
    ),
    Rule(
        name="serving-endpoint-access-advisory",
        description="Serving endpoint grants beyond the secure default that the stack's policy section accepts "
        "(shown, not failing).",
        enforcement=Enforcement.ADVISORY,
        resource_check=check_endpoint_access_advisory,
    ),
    Rule(
        name="prod-endpoint-capacity",
        description="Prod serving endpoints keep their capacity: no scale-to-zero and an explicit workload size.",
        enforcement=Enforcement.MANDATORY,
        resource_check=check_prod_capacity,
        options=("prod_stacks", "prod_environments"),
    ),
    Rule(
        name="traffic-routes-complete",
        description="Traffic routes of a serving endpoint sum to 100% and cover every served entity.",
        enforcement=Enforcement.MANDATORY,
        resource_check=check_traffic_routes,
    ),
    Rule(
        name="endpoint-required-tags",
        description="Serving endpoints carry the required tags (by default owner, cost-center, environment).",
        enforcement=Enforcement.ADVISORY,
        resource_check=check_required_tags,
        options=("required_tags",),
    ),
    Rule(
        name="endpoint-has-readiness",
        description="Every serving endpoint has its readiness check (EndpointReadiness) next to it.",
        enforcement=Enforcement.MANDATORY,
        stack_check=check_endpoint_readiness,
    ),
    Rule(
        name="environment-secrets-as-references",
        description="Served entities take credentials in environment variables only as "
        "{{secrets/<scope>/<key>}} references.",
        enforcement=Enforcement.MANDATORY,
        resource_check=check_environment_secrets,
    ),
    Rule(
        name="prod-endpoint-rate-limit",
        description="Prod serving endpoints have an endpoint-wide AI Gateway rate limit.",
        enforcement=Enforcement.ADVISORY,
        resource_check=check_prod_rate_limit,
        options=("prod_stacks", "prod_environments"),
    ),
    Rule(
        name="prod-external-model-gateway",
        description="Prod endpoints serving external models have an AI Gateway rate limit and usage tracking.",
        enforcement=Enforcement.MANDATORY,
        resource_check=check_prod_external_model_gateway,
        options=("prod_stacks", "prod_environments"),
    ),
    Rule(
        name="prod-endpoint-alerts",
        description="Prod serving endpoints have alerts on their telemetry (endpoints.<key>.monitoring).",
        enforcement=Enforcement.ADVISORY,
        stack_check=check_prod_endpoint_alerts,
        options=("prod_stacks", "prod_environments"),
    ),
    Rule(
        name="unity-catalog-models",
        description="Served models come from Unity Catalog (catalog.schema.model), not the legacy workspace "
        "Model Registry.",
        enforcement=Enforcement.ADVISORY,
        resource_check=check_unity_catalog_models,
    ),
)


# --------------------------------------------------------------------------------------------------
# Running the rule set (the offline review; the pack lets pulumi_policy do this)


@dataclass(frozen=True)
class Verdict:
    """One rule's outcome on a stack."""

    rule: Rule
    enforcement: Enforcement
    """The level in force (the rule's default unless the policy config overrides it)."""
    findings: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return not self.findings


def enforcement_of(rule: Rule, pack_config: Mapping[str, Any]) -> Enforcement:
    """The level in force for `rule`, read as pulumi reads a policy pack config.

    An entry is a level (`"advisory"`) or an object with `enforcementLevel`; the rule's own entry wins over
    `all`. `remediate` counts as mandatory: these rules do not remediate, and pulumi reports a remaining
    violation of a remediate policy as mandatory.
    """
    for key in (rule.name, "all"):
        entry = pack_config.get(key)
        level = entry.get("enforcementLevel") if isinstance(entry, Mapping) else entry
        if level is None:
            continue
        if level == "remediate":
            return Enforcement.MANDATORY
        try:
            return Enforcement(level)
        except ValueError:
            raise PolicyConfigError(
                f"{key}: enforcementLevel {level!r} is not one of advisory, mandatory, remediate, disabled"
            ) from None
    return rule.enforcement


def evaluate(
    resources: Sequence[Resource],
    stack: str,
    pack_config: Mapping[str, Any] | None = None,
    stack_policy: PolicySettings | None = None,
) -> list[Verdict]:
    """Every rule's verdict on the resources of `stack`.

    `pack_config` has the format of `pulumi preview --policy-pack-config`: rule name (or `all`) -> a level
    or `{"enforcementLevel": ..., <option>: ...}`. Raises `PolicyConfigError` for an unknown rule or option.
    `stack_policy` is the stack file's `policy` section (see `stack_policy_from_config`); a pack config's
    level still wins over it (`serving-endpoint-access-advisory: mandatory` makes every accepted grant fail).
    """
    pack_config = pack_config or {}
    names = {rule.name for rule in RULES}
    unknown = sorted(set(pack_config) - names - {"all"})
    if unknown:
        raise PolicyConfigError(f"unknown rule {', '.join(unknown)}; the rules are {', '.join(sorted(names))}")
    verdicts = []
    for rule in RULES:
        enforcement = enforcement_of(rule, pack_config)
        entry = pack_config.get(rule.name)
        options = rule.options_from(stack, entry if isinstance(entry, Mapping) else None, stack_policy)
        findings = () if enforcement is Enforcement.DISABLED else tuple(rule.findings(resources, options))
        verdicts.append(Verdict(rule, enforcement, findings))
    return verdicts
