"""Declared against live: `python -m review <stack> --live`, the evidence a change review attaches.

For every endpoint the stack declares, reads the workspace (GET only: the endpoint, then its permissions by
id, and what each model alias points at) and compares every field the stack declares: description, route
optimization, served entities (model, version, size, type, scale to zero, environment variables), traffic,
grants (every direct grant beyond the declared ones too), tags, AI Gateway, e-mail notifications; and says
whether an update is pending. Both sides are flattened by one function (`endpoint_fields`) into the same
dotted fields; `COMPARED` lists the fields where a live value the stack does not declare is drift too. A field
absent on one side and the API's default on the other is no drift (review/defaults.py).

A served entity declared by alias (`@champion`) is compared with what the alias points at now, resolved as the
preflight and the program resolve it (serving.preflight.resolve_version): `@champion (= 5)` against `4`. An alias
that cannot be resolved is said so in the report, not claimed as drift.

Credentials come from databricks-sdk's unified authentication (DATABRICKS_* variables or a profile); the
stack file's `databricks:host` is used only when the environment names no workspace.

A live environment variable is shown only when it is a secret reference (`{{secrets/<scope>/<key>}}`) or equals
the declared value: a live endpoint may hold a credential in plain text there. Live views are also what
`review/adopt.py` turns into stack-file entries.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from components.config import SECRET_REFERENCE_PATTERN, default_served_entity_name, is_alias
from review.changes import EndpointView, endpoint_views, format_split
from review.defaults import ABSENT, same_setting
from review.engine import DeclaredResource
from review.summary import MODEL_SERVING, SECRET, format_value
from serving.model import UNKNOWN, EndpointConfig, ServedEntity

PRINCIPAL_KINDS = (("service_principal_name", "service_principal"), ("group_name", "group"), ("user_name", "user"))
RANK = {"CAN_VIEW": 1, "CAN_QUERY": 2, "CAN_MANAGE": 3}
ENVIRONMENT_PREFIX = "environment_vars."


class LiveReadError(Exception):
    """The workspace cannot be read: no credentials, unreachable, or an API error (exit status 2)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def live_entities(config: EndpointConfig | Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A live config's served entities (`served_entities`, or the legacy `served_models`), in the review's terms."""
    parsed = EndpointConfig.parse(config)
    return {entity.name: _entity_terms(entity) for entity in (parsed.served_entities if parsed else ())}


def _entity_terms(entity: ServedEntity) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": entity.entity_name, "version": entity.entity_version or ""}
    if entity.workload_size is not None:
        fields["workload_size"] = entity.workload_size
    elif entity.min_provisioned_concurrency is not None or entity.max_provisioned_concurrency:
        fields["provisioned_concurrency"] = f"{entity.min_provisioned_concurrency}-{entity.max_provisioned_concurrency}"
    fields["workload_type"] = entity.workload_type or "CPU"
    fields["scale_to_zero"] = entity.scale_to_zero_enabled
    for name, value in sorted(entity.environment_vars.items()):
        fields[f"{ENVIRONMENT_PREFIX}{name}"] = value
    return fields


def live_traffic(config: EndpointConfig | Mapping[str, Any] | None) -> dict[str, int]:
    """A live config's routes: served entity name -> traffic percentage ({} without a config)."""
    parsed = EndpointConfig.parse(config)
    return parsed.traffic if parsed else {}


def direct_grants(permissions: Mapping[str, Any]) -> dict[str, str]:
    """`kind:name` -> the highest level granted directly (inherited grants, such as admins', are not the stack's)."""
    grants: dict[str, str] = {}
    for entry in permissions.get("access_control_list") or []:
        principal = next((f"{kind}:{entry[key]}" for key, kind in PRINCIPAL_KINDS if entry.get(key)), None)
        levels = [
            item.get("permission_level") for item in entry.get("all_permissions") or [] if not item.get("inherited")
        ]
        levels = [level for level in levels if level in RANK]
        if principal and levels:
            grants[principal] = max(levels, key=RANK.__getitem__)
    return grants


# --- one endpoint as flat fields, declared and live alike ------------------------------------------

NOTIFICATIONS = "servingops:index:EndpointNotifications"
# pulumi-databricks names list inputs in the plural where the API (and Terraform) has the singular.
PULUMI_NAMES = {"onUpdateSuccesses": "on_update_success", "onUpdateFailures": "on_update_failure"}
# The legacy `served_models` names of a served entity's model (a GET of an old endpoint still has them).
LEGACY_ENTITY_FIELDS = {"model_name": "entity_name", "model_version": "entity_version"}
HIDDEN = "(a value, not shown)"
"""A live environment variable that is neither a secret reference nor the declared value: maybe a credential."""

COMPARED: tuple[str, ...] = (
    "description",
    "route_optimized",
    "budget_policy_id",
    "served_entities.*.entity_name",
    "served_entities.*.entity_version",
    "served_entities.*.workload_size",
    "served_entities.*.workload_type",
    "served_entities.*.scale_to_zero_enabled",
    "served_entities.*.min_provisioned_concurrency",
    "served_entities.*.max_provisioned_concurrency",
    "served_entities.*.environment_vars.*",
    "traffic.*",
    "grants.*",
    "tags.*",
    "ai_gateway.*",
    "email_notifications.*",
)
"""Every field the live report compares (patterns over `endpoint_fields` names): each declared field, and a
live one the stack does not declare (an extra tag, a gateway feature or notification added by hand) is drift.
Live fields outside these (ids, timestamps, states, creators) are the workspace's own. tests/test_live_fields.py
checks that every field the program declares falls under one of them."""

ASPECTS = (
    ("served_entities", "served_entities"),
    ("traffic", "traffic"),
    ("grants", "grants"),
    ("tags", "tags"),
    ("ai_gateway", "ai_gateway"),
    ("email_notifications", "notifications"),
)
"""Field prefix -> the aspect a drift is reported under; any other field is the endpoint's own (`endpoint`)."""


def is_compared(name: str) -> bool:
    """Whether the live report compares field `name` (one of `COMPARED`)."""
    return any(fnmatchcase(name, pattern) for pattern in COMPARED)


@dataclass(frozen=True)
class Secret:
    """A declared value marked secret: compared by its content, always shown as `[secret]`."""

    value: Any

    def __repr__(self) -> str:
        return SECRET


def _number(value: Any) -> Any:
    # Pulumi carries every number as a float; the API answers whole numbers as integers.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def api_shape(value: Any, verbatim: bool = False) -> Any:
    """Declared pulumi-databricks inputs (camelCase, secrets marked) in the serving API's shape (snake_case), as
    the provider sends them; secrets become `Secret`. `verbatim`: keys that are the user's (variable names)."""
    from review.engine import is_secret, unwrap

    if is_secret(value):
        return Secret(api_shape(unwrap(value), verbatim))
    if isinstance(value, Mapping):
        shaped: dict[str, Any] = {}
        for key, item in value.items():
            if item is None or str(key).startswith("__"):
                continue
            name = str(key) if verbatim else PULUMI_NAMES.get(str(key), _snake(str(key)))
            shaped[name] = api_shape(item, verbatim=name == "environment_vars")
        return shaped
    if isinstance(value, list):
        return [api_shape(item) for item in value]
    return _number(value)


def _leaves(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key in value:
            _leaves(f"{prefix}.{key}", value[key], into)
    elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        for index, item in enumerate(value):
            _leaves(f"{prefix}[{index}]", item, into)
    else:
        into[prefix] = _number(value)


def _rate_limit_label(limit: Mapping[str, Any]) -> str:
    # The API fills a rate limit's key with `endpoint` when a request leaves it out.
    key, principal = limit.get("key") or "endpoint", limit.get("principal")
    return f"{key}:{principal}" if principal is not None else str(key)


def endpoint_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """An endpoint in the serving API's shape (a GET, or declared inputs through `api_shape`) as flat fields, each
    item keyed by what identifies it, not by its place in a list: `served_entities.<name>.<field>`,
    `traffic.<served entity>`, `tags.<key>`, `ai_gateway.rate_limits[<key>(:<principal>)].<field>`,
    `email_notifications.<field>` (addresses sorted); any other field by its dotted path. `name` is the identity."""
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if key == "name":
            continue
        if key == "config":
            config = dict(value or {})
            for entity in config.pop("served_entities", None) or config.pop("served_models", None) or []:
                entity = {LEGACY_ENTITY_FIELDS.get(field_name, field_name): item for field_name, item in entity.items()}
                name = entity.get("name") or default_served_entity_name(
                    str(entity.get("entity_name")), str(entity.get("entity_version"))
                )
                for attribute, item in entity.items():
                    if attribute != "name":
                        _leaves(f"served_entities.{name}.{attribute}", item, fields)
            config.pop("served_models", None)
            for route in (config.pop("traffic_config", None) or {}).get("routes") or []:
                name = route.get("served_entity_name") or route.get("served_model_name")
                fields[f"traffic.{name}"] = _number(route.get("traffic_percentage", 0))
            for other, item in config.items():
                _leaves(f"config.{other}", item, fields)
        elif key == "tags" and isinstance(value, list):
            for tag in value:
                fields[f"tags.{tag.get('key')}"] = tag.get("value")
        elif key == "ai_gateway" and isinstance(value, Mapping):
            for feature, item in value.items():
                if feature == "rate_limits" and isinstance(item, list):
                    for limit in item:
                        label = _rate_limit_label(limit)
                        for attribute, setting in limit.items():
                            if attribute not in ("key", "principal"):
                                _leaves(f"ai_gateway.rate_limits[{label}].{attribute}", setting, fields)
                else:
                    _leaves(f"ai_gateway.{feature}", item, fields)
        elif key == "email_notifications" and isinstance(value, Mapping):
            for kind, addresses in value.items():
                fields[f"email_notifications.{kind}"] = sorted(addresses) if isinstance(addresses, list) else addresses
        else:
            _leaves(key, value, fields)
    return fields


def declared_fields(
    model_serving: Mapping[str, Any], view: EndpointView, notifications: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every field one endpoint declares, as `endpoint_fields` names them.

    `model_serving`: the ModelServing's inputs (secrets marked); `view`: the endpoint as the review sees it, whose
    traffic is the declared target (a rollout's ModelServing starts from the live split) and whose grants are the
    Permissions'; `notifications`: the EndpointNotifications' inputs, which keep the e-mail notifications after
    creation (the ModelServing sends them at creation only).
    """
    body = api_shape(dict(model_serving))
    config = body.get("config") if isinstance(body.get("config"), dict) else {}
    capture = config.pop("auto_capture_config", None)
    if capture and "inference_table_config" not in (body.get("ai_gateway") or {}):
        # A legacy inference table: Databricks only keeps request logs through the AI Gateway now (2026-02-20).
        body.setdefault("ai_gateway", {})["inference_table_config"] = capture
    if notifications is not None:
        body["email_notifications"] = {
            kind: list(notifications.get(kind) or []) for kind in ("on_update_success", "on_update_failure")
        }
    fields = {name: value for name, value in endpoint_fields(body).items() if not name.startswith("traffic.")}
    fields.update({f"traffic.{name}": _number(share) for name, share in view.traffic.items()})
    fields.update({f"grants.{principal}": level for principal, level in view.access.items()})
    return dict(sorted(fields.items(), key=_field_order))


def _field_order(item: tuple[str, Any]) -> tuple[int, str]:
    # The endpoint's own fields first, then aspect by aspect, as the details show them.
    aspect = aspect_of(item[0])
    order = ["endpoint", *(name for _, name in ASPECTS)]
    return order.index(aspect), item[0]


def live_fields(endpoint: Mapping[str, Any], grants: Mapping[str, str]) -> dict[str, Any]:
    """The compared fields of a live endpoint (GET detail) and its direct grants (the deployer's left out)."""
    fields = {name: value for name, value in endpoint_fields(endpoint).items() if is_compared(name)}
    fields.update({f"grants.{principal}": level for principal, level in grants.items()})
    return fields


def aspect_of(name: str) -> str:
    return next((aspect for prefix, aspect in ASPECTS if name.startswith(f"{prefix}.")), "endpoint")


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """One aspect where the workspace differs from the declaration."""

    aspect: str
    """`endpoint`, `served_entities`, `traffic`, `grants`, `tags`, `ai_gateway`, `notifications`."""
    message: str


@dataclass
class EndpointReport:
    key: str
    name: str
    exists: bool
    state: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every compared field (`endpoint_fields` names) -> {declared, live, differs}, values as they may be shown."""
    entities: list[dict[str, Any]] = field(default_factory=list)
    """Per served entity: name, declared version (an alias with what it points at), live version, deployment
    state, and its fields (`workload_size` -> {declared, live, differs})."""
    pending: dict[str, Any] | None = None
    drift: list[Drift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What could not be compared, and why (an alias that cannot be resolved): not drift."""
    deployer: str | None = None

    def aspect(self, prefix: str) -> dict[str, dict[str, Any]]:
        """The compared fields under `prefix` (`tags`), by the rest of their name, as {declared, live}."""
        return {
            name[len(prefix) + 1 :]: {"declared": pair["declared"], "live": pair["live"]}
            for name, pair in self.fields.items()
            if name.startswith(f"{prefix}.")
        }

    @property
    def traffic(self) -> dict[str, dict[str, Any]]:
        return self.aspect("traffic")

    @property
    def grants(self) -> dict[str, dict[str, Any]]:
        return self.aspect("grants")

    @property
    def tags(self) -> dict[str, dict[str, Any]]:
        return self.aspect("tags")

    @property
    def ai_gateway(self) -> dict[str, dict[str, Any]]:
        return self.aspect("ai_gateway")

    @property
    def notifications(self) -> dict[str, dict[str, Any]]:
        return self.aspect("email_notifications")

    def line(self) -> str:
        """One line in domain terms, as the change summary has."""
        if not self.exists:
            return f"{self.key}: drift: endpoint {self.name} does not exist in the workspace"
        state = f"{self.state.get('ready')}, {self.state.get('config_update')}"
        notes = "".join(f"; {note}" for note in self.notes)
        if not self.drift:
            return f"{self.key}: as declared ({state}){notes}"
        return f"{self.key}: drift: " + "; ".join(item.message for item in self.drift) + f" ({state}){notes}"


def _plain(value: Any) -> Any:
    """A value as compared: a secret by its content, absent as None."""
    if value is ABSENT:
        return None
    return value.value if isinstance(value, Secret) else value


def _public(value: Any) -> Any:
    """A value as it may be shown (JSON): absent as None, a secret as `[secret]`."""
    if value is ABSENT:
        return None
    if isinstance(value, Secret):
        return SECRET
    return value


def _shown(value: Any) -> str:
    if value is None or value is ABSENT:
        return "(none)"
    if isinstance(value, Secret):
        return SECRET
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value) or "(none)"
    return format_value(value)


def _live_variable(declared: Any, live: Any) -> Any:
    """A live environment variable as it may be shown: a secret reference, or the declared value; else hidden."""
    if live is ABSENT or (isinstance(live, str) and SECRET_REFERENCE_PATTERN.match(live)):
        return live
    if not isinstance(declared, Secret) and declared is not ABSENT and declared == live:
        return live
    return HIDDEN


def _version_shown(version: Any) -> str:
    """`v4`, an alias as declared with what it points at (`@champion (= 4)`), or `-` for none."""
    if version is None or version is ABSENT:
        return "-"
    return str(version) if str(version).startswith("@") else f"v{version}"


def compare(
    declared: EndpointView,
    wanted: Mapping[str, Any],
    endpoint: Mapping[str, Any] | None,
    permissions: Mapping[str, Any],
    aliases: Mapping[str, Any] | None = None,
) -> EndpointReport:
    """What differs between one declared endpoint and its live state (`endpoint` None: not in the workspace).

    `wanted`: the endpoint's `declared_fields`; `aliases`: served entity name -> what its declared alias points
    at now (serving.preflight.Resolution); an alias without one is not compared.
    """
    name = declared.name or declared.key
    if endpoint is None:
        report = EndpointReport(declared.key, name, exists=False)
        report.drift.append(Drift("endpoint", f"endpoint {name} does not exist"))
        return report
    report = EndpointReport(declared.key, name, exists=True, state=dict(endpoint.get("state") or {}))
    grants = _without_deployer(report, wanted, endpoint.get("creator"), direct_grants(permissions))
    have = live_fields(endpoint, grants)
    _compare_fields(report, wanted, have, aliases or {})
    _compare_entities(report, wanted, have, EndpointConfig.parse(endpoint.get("config")))
    _report_drift(report)
    pending = EndpointConfig.parse(endpoint.get("pending_config"))
    if pending is not None:
        report.pending = {
            "entities": {name: entity["version"] for name, entity in live_entities(pending).items()},
            "traffic": live_traffic(pending),
        }
    return report


def _without_deployer(
    report: EndpointReport, wanted: Mapping[str, Any], creator: Any, grants: dict[str, str]
) -> dict[str, str]:
    """`grants` less the deploying identity's CAN_MANAGE (noted on the report): the Permissions resource keeps it
    for the identity that deploys (the endpoint's creator), so it is not drift unless the stack declares it."""
    for principal in [p for p, level in grants.items() if level == "CAN_MANAGE" and p.endswith(f":{creator}")]:
        if f"grants.{principal}" not in wanted:
            report.deployer = principal
            del grants[principal]
    return grants


def _compare_fields(
    report: EndpointReport, wanted: Mapping[str, Any], have: Mapping[str, Any], aliases: Mapping[str, Any]
) -> None:
    """Each field declared or live, as {declared, live, differs} on the report; what may not be shown, hidden."""
    for field_name in dict.fromkeys([*wanted, *have]):
        want, live = wanted.get(field_name, ABSENT), have.get(field_name, ABSENT)
        compared_want = _plain(want)
        entity, _, attribute = field_name.removeprefix("served_entities.").partition(".")
        if field_name.startswith("served_entities.") and attribute == "entity_version" and is_alias(str(want)):
            resolution = aliases.get(entity)
            if resolution is None or resolution.version is None:
                problem = resolution.problem if resolution is not None else "not resolved"
                report.notes.append(f"{entity} version {want} not compared: the alias cannot be resolved ({problem})")
                report.fields[field_name] = {
                    "declared": f"{want} (unresolved: {problem})",
                    "live": _public(live),
                    "differs": False,
                }
                continue
            compared_want = resolution.version
            want = f"{want} (= {resolution.version})"
        if ".environment_vars." in field_name:
            live = _live_variable(want, live)
        elif isinstance(want, Secret) and live is not ABSENT:
            live = Secret(live)  # what the stack keeps secret, the report does not show from the workspace either
        differs = not same_setting(field_name, compared_want, _plain(have.get(field_name, ABSENT)))
        report.fields[field_name] = {"declared": _public(want), "live": _public(live), "differs": differs}


def _entity_names(fields: Mapping[str, Any]) -> dict[str, None]:
    """The served entity names among `served_entities.<name>.<field>` names, in their order."""
    return dict.fromkeys(name.split(".", 2)[1] for name in fields if name.startswith("served_entities."))


def _compare_entities(
    report: EndpointReport, wanted: Mapping[str, Any], have: Mapping[str, Any], live: EndpointConfig | None
) -> None:
    """Per served entity: its versions, deployment state and fields on the report, and its drift: declared and
    not served, served and not declared, or served otherwise than declared."""
    # An entity without a deployment state (none reported) shows none; a state this code does not know, as is.
    states = {
        entity.name: None if entity.deployment.value == UNKNOWN else entity.deployment.value
        for entity in (live.served_entities if live else ())
    }
    declared_entities, live_entity_names = _entity_names(wanted), _entity_names(have)
    for entity in _entity_names(report.fields):
        prefix = f"served_entities.{entity}."
        own = {name[len(prefix) :]: pair for name, pair in report.fields.items() if name.startswith(prefix)}
        version = own.get("entity_version", {})
        report.entities.append(
            {
                "name": entity,
                "declared_version": version.get("declared"),
                "live_version": version.get("live"),
                "state": states.get(entity),
                "fields": own,
            }
        )
        if entity not in live_entity_names:
            report.drift.append(
                Drift("served_entities", f"{entity} {_version_shown(version.get('declared'))} declared, not served")
            )
        elif entity not in declared_entities:
            report.drift.append(
                Drift("served_entities", f"{entity} {_version_shown(version.get('live'))} serves, not declared")
            )
        else:
            report.drift.extend(
                Drift(
                    "served_entities",
                    f"{entity} {attribute} declared {_shown(pair['declared'])}, live {_shown(pair['live'])}",
                )
                for attribute, pair in own.items()
                if pair["differs"]
            )


def _declared_live(report: EndpointReport, name: str) -> str:
    pair = report.fields[name]
    return f"declared {_shown(pair['declared'])}, live {_shown(pair['live'])}"


def _report_drift(report: EndpointReport) -> None:
    """The drift of the endpoint's own fields (first), its traffic, grants, tags, AI Gateway and notifications."""
    changed = {
        aspect: [name for name, pair in report.fields.items() if pair["differs"] and aspect_of(name) == aspect]
        for aspect in ("endpoint", "traffic", "grants", "tags", "ai_gateway", "notifications")
    }
    report.drift[:0] = [Drift("endpoint", f"{name} {_declared_live(report, name)}") for name in changed["endpoint"]]
    if changed["traffic"]:
        report.drift.append(Drift("traffic", _traffic_drift(report)))
    for name in changed["grants"]:
        report.drift.append(Drift("grants", _grant_drift(name.removeprefix("grants."), report.fields[name])))
    for name in changed["tags"]:
        report.drift.append(Drift("tags", f"tag {name.removeprefix('tags.')} {_declared_live(report, name)}"))
    if changed["ai_gateway"]:
        features = (
            f"{name.removeprefix('ai_gateway.')} {_declared_live(report, name)}" for name in changed["ai_gateway"]
        )
        report.drift.append(Drift("ai_gateway", "AI Gateway " + ", ".join(features)))
    for name in changed["notifications"]:
        kind = name.removeprefix("email_notifications.")
        report.drift.append(Drift("notifications", f"notifications {kind} {_declared_live(report, name)}"))


def _traffic_drift(report: EndpointReport) -> str:
    """`traffic declared 90/10, live 50/50`; as mappings when the routes are not the same served entities."""
    routes = report.traffic
    declared_split = {name: pair["declared"] for name, pair in routes.items() if pair["declared"] is not None}
    live_split = {name: pair["live"] for name, pair in routes.items() if pair["live"] is not None}
    if list(declared_split) == list(live_split):
        return (
            f"traffic declared {format_split(declared_split, list(declared_split))}, "
            f"live {format_split(live_split, list(live_split))}"
        )
    return f"traffic declared {declared_split}, live {live_split}"


def _grant_drift(principal: str, pair: Mapping[str, Any]) -> str:
    if pair["declared"] is None:
        return f"extra grant {principal} {pair['live']}"
    if pair["live"] is None:
        return f"grant {principal} {pair['declared']} missing"
    return f"grant {principal} declared {pair['declared']}, live {pair['live']}"


@dataclass(frozen=True)
class DeclaredEndpoint:
    """One endpoint as the stack declares it: the review's view, and every field the live report compares."""

    view: EndpointView
    fields: dict[str, Any]


def declared_views(summaries: Sequence[Any], resources: Sequence[DeclaredResource]) -> list[DeclaredEndpoint]:
    """Each declared endpoint with its declared fields, in key order."""
    views = endpoint_views(summaries)
    by_urn = {summary.urn: summary.name for summary in summaries}
    serving = {by_urn.get(resource.parent): resource for resource in resources if resource.type == MODEL_SERVING}
    notifications = {by_urn.get(resource.parent): resource for resource in resources if resource.type == NOTIFICATIONS}
    declared = []
    for key in sorted(views):
        resource, notified = serving.get(key), notifications.get(key)
        inputs = dict(resource.inputs) if resource is not None else {}
        notified_inputs = api_shape(dict(notified.inputs)) if notified is not None else None
        declared.append(DeclaredEndpoint(views[key], declared_fields(inputs, views[key], notified_inputs)))
    return declared


def live_client(stack_host: str | None) -> Any:
    """A ServingClient from DATABRICKS_* / profile credentials; the stack's host only when none names one."""
    # databricks-sdk: only when the workspace is read
    from serving.workspace import ServingClient, WorkspaceConfigError, sdk_config

    named = any(os.environ.get(key) for key in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE"))
    host = None if named else stack_host
    try:
        config = sdk_config(lambda key: host if key == "databricks:host" else None)
        if not config.host:
            raise LiveReadError("no workspace: set DATABRICKS_HOST (or DATABRICKS_CONFIG_PROFILE) or databricks:host")
        return ServingClient(config)
    except LiveReadError:
        raise
    except WorkspaceConfigError as error:  # already names the host and what to set, never a credential
        raise LiveReadError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - the sdk's configuration errors name what is missing, no secret
        raise LiveReadError(f"cannot authenticate to the workspace: {type(error).__name__}: {error}") from None


def resolve_aliases(client: Any, declared: Mapping[str, Any]) -> dict[str, Any]:
    """Served entity name -> what its declared alias points at now (serving.preflight.Resolution), read as the
    preflight and the program's plugin read it; a workspace error is the resolution's problem, not a failure."""
    from serving.preflight import Resolution, resolve_version
    from serving.workspace import ServingApiError

    resolutions: dict[str, Any] = {}
    for name, version in declared.items():
        entity, _, attribute = name.removeprefix("served_entities.").partition(".")
        if not name.startswith("served_entities.") or attribute != "entity_version" or not is_alias(str(version)):
            continue
        model = declared.get(f"served_entities.{entity}.entity_name")
        try:
            resolutions[entity] = resolve_version(client, str(model), str(version))
        except ServingApiError as error:
            resolutions[entity] = Resolution(None, str(error))
    return resolutions


def live_report(declared: Sequence[DeclaredEndpoint], client: Any) -> list[EndpointReport]:
    """Read each declared endpoint, its permissions and its aliases (GET only) and compare."""
    from serving.workspace import ServingApiError, get_permissions

    reports = []
    for endpoint_declared in declared:
        view = endpoint_declared.view
        name = view.name or view.key
        try:
            endpoint = client.get_endpoint(name)
            permissions = get_permissions(client, endpoint["id"]) if endpoint else {}
            aliases = resolve_aliases(client, endpoint_declared.fields) if endpoint else {}
        except ServingApiError as error:
            raise LiveReadError(f"cannot read {name}: {error}") from None
        except OSError as error:
            raise LiveReadError(f"cannot reach the workspace {client.host}: {type(error).__name__}") from None
        reports.append(compare(view, endpoint_declared.fields, endpoint, permissions, aliases))
    return reports


FIELD_LABELS = (
    ("traffic.", "traffic "),
    ("grants.", "grant "),
    ("tags.", "tag "),
    ("ai_gateway.", "ai_gateway "),
    ("email_notifications.", "notifications "),
)
"""How a field is named in the text details (`! grant user:a@example.com: declared (none), live CAN_QUERY`)."""


def _detail(label: str, pair: Mapping[str, Any]) -> str:
    mark = "!" if pair["differs"] else " "
    return f"  {mark} {label}: declared {_shown(pair['declared'])}, live {_shown(pair['live'])}"


def render_report(reports: Sequence[EndpointReport], host: str) -> str:
    """Per endpoint, every compared field declared vs live (`!` where they differ); the summary lines come before."""
    lines = [f"Declared vs live at {host}, per endpoint (! where they differ):"]
    for report in reports:
        lines += ["", f"{report.key}  ({report.name})"]
        if not report.exists:
            lines.append("    not in the workspace")
            continue
        lines.append(f"    state: {report.state.get('ready')}, {report.state.get('config_update')}")
        for name, pair in report.fields.items():
            if aspect_of(name) == "endpoint":
                lines.append(_detail(name, pair))
        for entity in report.entities:
            version = entity["fields"].get("entity_version", {"differs": False})
            lines.append(
                f"  {'!' if version['differs'] else ' '} served entity {entity['name']}: declared "
                f"{_version_shown(entity['declared_version'])}, live {_version_shown(entity['live_version'])} "
                f"{entity['state'] or ''}".rstrip()
            )
            lines += [
                _detail(f"served entity {entity['name']} {attribute}", pair)
                for attribute, pair in entity["fields"].items()
                if attribute != "entity_version"
            ]
        for prefix, label in FIELD_LABELS:
            lines += [
                _detail(label + name[len(prefix) :], pair)
                for name, pair in report.fields.items()
                if name.startswith(prefix)
            ]
        if report.deployer:
            lines.append(f"    grant {report.deployer}: CAN_MANAGE (the deploying identity, kept by Permissions)")
        if report.pending:
            lines.append(f"    pending config: {report.pending}")
        else:
            lines.append("    pending config: none")
        lines += [f"    not compared: {note}" for note in report.notes]
    return "\n".join(lines)


def report_json(reports: Sequence[EndpointReport], host: str) -> dict[str, Any]:
    """The report for machines: every compared field with its declared and live value (`fields`), and the same
    by aspect; secrets as `[secret]`, a live environment variable that may be a credential not at all."""
    return {
        "host": host,
        "drift": any(report.drift for report in reports),
        "endpoints": [
            {
                "key": report.key,
                "name": report.name,
                "exists": report.exists,
                "state": report.state,
                "fields": report.fields,
                "served_entities": report.entities,
                "traffic": report.traffic,
                "grants": report.grants,
                "tags": report.tags,
                "ai_gateway": report.ai_gateway,
                "notifications": report.notifications,
                "endpoint": {
                    name: {"declared": pair["declared"], "live": pair["live"]}
                    for name, pair in report.fields.items()
                    if aspect_of(name) == "endpoint"
                },
                "pending_config": report.pending,
                "deployer": report.deployer,
                "summary": report.line(),
                "notes": report.notes,
                "drift": [{"aspect": item.aspect, "message": item.message} for item in report.drift],
            }
            for report in reports
        ],
    }
