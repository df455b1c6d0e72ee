"""Declared against live: `python -m review <stack> --live`, the evidence a change review attaches.

For every endpoint the stack declares, reads the workspace (GET only: the endpoint, then its permissions by
id) and compares, aspect by aspect: served entities (version, and the deployment state of each), traffic,
grants (every direct grant beyond the declared ones too), tags, AI Gateway, and whether an update is pending.
Credentials come from databricks-sdk's unified authentication (DATABRICKS_* variables or a profile); the
stack file's `databricks:host` is used only when the environment names no workspace.

Environment variable values are compared but never shown: a live endpoint may hold a credential in plain
text there. Live views are also what `review/adopt.py` turns into stack-file entries.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from review.changes import EndpointView, endpoint_views, format_split, format_value
from review.engine import DeclaredResource
from review.summary import MODEL_SERVING

PRINCIPAL_KINDS = (("service_principal_name", "service_principal"), ("group_name", "group"), ("user_name", "user"))
RANK = {"CAN_VIEW": 1, "CAN_QUERY": 2, "CAN_MANAGE": 3}
ENVIRONMENT_PREFIX = "environment_vars."


class LiveReadError(Exception):
    """The workspace cannot be read: no credentials, unreachable, or an API error (exit status 2)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    """Nested values as dotted fields; keys in the API's snake_case (declared inputs are camelCase)."""
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            flatten(f"{prefix}.{_snake(str(key))}" if prefix else _snake(str(key)), value[key], into)
    elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        for index, item in enumerate(value):
            flatten(f"{prefix}[{index}]", item, into)
    elif value not in (None, [], {}):
        into[prefix] = value


def live_entities(config: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A live config's served entities (`served_entities`, or the legacy `served_models`), in the review's terms."""
    entities: dict[str, dict[str, Any]] = {}
    config = config or {}
    for entity in config.get("served_entities") or config.get("served_models") or []:
        fields: dict[str, Any] = {
            "model": entity.get("entity_name") or entity.get("model_name"),
            "version": str(entity.get("entity_version") or entity.get("model_version") or ""),
        }
        if entity.get("workload_size") is not None:
            fields["workload_size"] = entity["workload_size"]
        elif entity.get("min_provisioned_concurrency") is not None or entity.get("max_provisioned_concurrency"):
            fields["provisioned_concurrency"] = (
                f"{entity.get('min_provisioned_concurrency')}-{entity.get('max_provisioned_concurrency')}"
            )
        fields["workload_type"] = entity.get("workload_type") or "CPU"
        fields["scale_to_zero"] = bool(entity.get("scale_to_zero_enabled"))
        for name, value in sorted((entity.get("environment_vars") or {}).items()):
            fields[f"{ENVIRONMENT_PREFIX}{name}"] = value
        name = entity.get("name") or f"{str(fields['model']).rsplit('.', 1)[-1]}-{fields['version']}"
        entities[name] = fields
    return entities


def live_traffic(config: Mapping[str, Any] | None) -> dict[str, int]:
    routes = ((config or {}).get("traffic_config") or {}).get("routes") or []
    return {route.get("served_entity_name") or route.get("served_model_name"): int(route.get("traffic_percentage", 0))
            for route in routes}


def direct_grants(permissions: Mapping[str, Any]) -> dict[str, str]:
    """`kind:name` -> the highest level granted directly (inherited grants, such as admins', are not the stack's)."""
    grants: dict[str, str] = {}
    for entry in permissions.get("access_control_list") or []:
        principal = next((f"{kind}:{entry[key]}" for key, kind in PRINCIPAL_KINDS if entry.get(key)), None)
        levels = [item.get("permission_level") for item in entry.get("all_permissions") or []
                  if not item.get("inherited")]
        levels = [level for level in levels if level in RANK]
        if principal and levels:
            grants[principal] = max(levels, key=RANK.__getitem__)
    return grants


def live_view(key: str, endpoint: Mapping[str, Any], permissions: Mapping[str, Any]) -> EndpointView:
    """A live endpoint (GET detail) and its permissions in the review's terms."""
    config = endpoint.get("config")
    view = EndpointView(key, name=endpoint.get("name"), entities=live_entities(config), traffic=live_traffic(config),
                        access=direct_grants(permissions),
                        tags={tag["key"]: tag.get("value") for tag in endpoint.get("tags") or []})
    gateway: dict[str, Any] = {}
    flatten("", endpoint.get("ai_gateway") or {}, gateway)
    view.fields = {("ai_gateway", name): value for name, value in gateway.items()}
    return view


def declared_ai_gateway(resource: DeclaredResource) -> dict[str, Any]:
    """The AI Gateway a ModelServing declares, flattened as `live_view` flattens the live one."""
    from review.engine import unwrap

    declared = dict(unwrap(resource.inputs.get("aiGateway")) or {})
    capture = (unwrap(resource.inputs.get("config")) or {}).get("autoCaptureConfig")
    if capture and "inferenceTableConfig" not in declared:
        # A legacy inference table: Databricks only keeps request logs through the AI Gateway now (2026-02-20).
        declared["inferenceTableConfig"] = capture
    gateway: dict[str, Any] = {}
    flatten("", declared, gateway)
    return gateway


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """One aspect where the workspace differs from the declaration."""

    aspect: str
    """`endpoint`, `served_entities`, `traffic`, `grants`, `tags`, `ai_gateway`."""
    message: str


@dataclass
class EndpointReport:
    key: str
    name: str
    exists: bool
    state: dict[str, Any] = field(default_factory=dict)
    entities: list[dict[str, Any]] = field(default_factory=list)
    """Per served entity: name, declared version, live version, live deployment state."""
    traffic: dict[str, dict[str, int | None]] = field(default_factory=dict)
    grants: dict[str, dict[str, str | None]] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    ai_gateway: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, Any] | None = None
    drift: list[Drift] = field(default_factory=list)
    deployer: str | None = None

    def line(self) -> str:
        """One line in domain terms, as the change summary has."""
        if not self.exists:
            return f"{self.key}: drift: endpoint {self.name} does not exist in the workspace"
        state = f"{self.state.get('ready')}, {self.state.get('config_update')}"
        if not self.drift:
            return f"{self.key}: as declared ({state})"
        return f"{self.key}: drift: " + "; ".join(item.message for item in self.drift) + f" ({state})"


def _pairs(declared: Mapping[str, Any], live: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: {"declared": declared.get(key), "live": live.get(key)} for key in dict.fromkeys([*declared, *live])}


def _shown(value: Any) -> str:
    return "(none)" if value is None else format_value(value)


def compare(declared: EndpointView, gateway: Mapping[str, Any], endpoint: Mapping[str, Any] | None,
            permissions: Mapping[str, Any]) -> EndpointReport:
    """What differs between one declared endpoint and its live state (`endpoint` None: not in the workspace)."""
    name = declared.name or declared.key
    if endpoint is None:
        report = EndpointReport(declared.key, name, exists=False)
        report.drift.append(Drift("endpoint", f"endpoint {name} does not exist"))
        return report
    live = live_view(declared.key, endpoint, permissions)
    report = EndpointReport(declared.key, name, exists=True, state=dict(endpoint.get("state") or {}))
    drift = report.drift

    states = {entity.get("name"): (entity.get("state") or {}).get("deployment")
              for entity in (endpoint.get("config") or {}).get("served_entities") or []}
    for entity in dict.fromkeys([*declared.entities, *live.entities]):
        want, have = declared.entities.get(entity), live.entities.get(entity)
        report.entities.append({"name": entity, "declared_version": want and want.get("version"),
                                "live_version": have and have.get("version"), "state": states.get(entity)})
        if want is None:
            drift.append(Drift("served_entities", f"{entity} v{have and have.get('version')} serves, not declared"))
        elif have is None:
            drift.append(Drift("served_entities", f"{entity} v{want.get('version')} declared, not served"))
        else:
            for attribute in dict.fromkeys([*want, *have]):
                if want.get(attribute) == have.get(attribute):
                    continue
                if attribute.startswith(ENVIRONMENT_PREFIX):  # values may be credentials: never shown
                    drift.append(Drift("served_entities", f"{entity} {attribute} differs"))
                else:
                    drift.append(Drift("served_entities", f"{entity} {attribute} declared "
                                       f"{_shown(want.get(attribute))}, live {_shown(have.get(attribute))}"))

    report.traffic = _pairs(declared.traffic, live.traffic)
    if declared.traffic != live.traffic:
        if list(declared.traffic) == list(live.traffic):
            shown = f"traffic declared {format_split(declared.traffic, list(declared.traffic))}, " \
                    f"live {format_split(live.traffic, list(live.traffic))}"
        else:
            shown = f"traffic declared {dict(declared.traffic)}, live {dict(live.traffic)}"
        drift.append(Drift("traffic", shown))

    # The Permissions resource keeps CAN_MANAGE for the identity that deploys (the endpoint's creator).
    creator = endpoint.get("creator")
    live_grants = dict(live.access)
    for principal in [p for p, level in live_grants.items() if level == "CAN_MANAGE" and p.endswith(f":{creator}")]:
        if principal not in declared.access:
            report.deployer = principal
            del live_grants[principal]
    report.grants = _pairs(declared.access, live_grants)
    for principal, pair in report.grants.items():
        if pair["declared"] == pair["live"]:
            continue
        if pair["declared"] is None:
            drift.append(Drift("grants", f"extra grant {principal} {pair['live']}"))
        elif pair["live"] is None:
            drift.append(Drift("grants", f"grant {principal} {pair['declared']} missing"))
        else:
            drift.append(Drift("grants", f"grant {principal} declared {pair['declared']}, live {pair['live']}"))

    report.tags = _pairs(declared.tags, live.tags)
    for tag, pair in report.tags.items():
        if pair["declared"] != pair["live"]:
            drift.append(Drift("tags", f"tag {tag} declared {_shown(pair['declared'])}, live {_shown(pair['live'])}"))

    live_gateway = {name: value for (_, name), value in live.fields.items()}
    report.ai_gateway = _pairs(gateway, live_gateway)
    changed = [name for name, pair in report.ai_gateway.items() if pair["declared"] != pair["live"]]
    if changed:
        drift.append(Drift("ai_gateway", "AI Gateway " + ", ".join(
            f"{name} declared {_shown(report.ai_gateway[name]['declared'])}, live "
            f"{_shown(report.ai_gateway[name]['live'])}" for name in changed)))

    pending = endpoint.get("pending_config")
    if pending:
        report.pending = {"entities": {name: entity.get("version") for name, entity in live_entities(pending).items()},
                          "traffic": live_traffic(pending)}
    return report


def declared_views(summaries: Sequence[Any], resources: Sequence[DeclaredResource]
                   ) -> list[tuple[EndpointView, dict[str, Any]]]:
    """Each declared endpoint with its declared AI Gateway, in key order."""
    views = endpoint_views(summaries)
    gateways = {resource.parent: declared_ai_gateway(resource) for resource in resources
                if resource.type == MODEL_SERVING}
    by_urn = {summary.urn: summary.name for summary in summaries}
    gateway_of = {by_urn.get(parent): gateway for parent, gateway in gateways.items()}
    return [(views[key], gateway_of.get(key, {})) for key in sorted(views)]


def live_client(stack_host: str | None) -> Any:
    """A ServingClient from DATABRICKS_* / profile credentials; the stack's host only when none names one."""
    from serving.workspace import ServingClient, sdk_config  # databricks-sdk: only when the workspace is read

    named = any(os.environ.get(key) for key in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE"))
    host = None if named else stack_host
    try:
        config = sdk_config(lambda key: host if key == "databricks:host" else None)
        if not config.host:
            raise LiveReadError("no workspace: set DATABRICKS_HOST (or DATABRICKS_CONFIG_PROFILE) or databricks:host")
        return ServingClient(config)
    except LiveReadError:
        raise
    except Exception as error:  # noqa: BLE001 - the sdk's configuration errors name what is missing, no secret
        raise LiveReadError(f"cannot authenticate to the workspace: {type(error).__name__}: {error}") from None


def live_report(views: Sequence[tuple[EndpointView, dict[str, Any]]], client: Any) -> list[EndpointReport]:
    """Read each declared endpoint and its permissions (GET only) and compare."""
    from serving.workspace import ServingApiError, get_permissions

    reports = []
    for view, gateway in views:
        name = view.name or view.key
        try:
            endpoint = client.get_endpoint(name)
            permissions = get_permissions(client, endpoint["id"]) if endpoint else {}
        except ServingApiError as error:
            raise LiveReadError(f"cannot read {name}: {error}") from None
        except OSError as error:
            raise LiveReadError(f"cannot reach the workspace {client.host}: {type(error).__name__}") from None
        reports.append(compare(view, gateway, endpoint, permissions))
    return reports


def render_report(reports: Sequence[EndpointReport], host: str) -> str:
    """Per endpoint, declared vs live for each aspect (`!` where they differ); the summary lines come before."""
    lines = [f"Declared vs live at {host}, per endpoint (! where they differ):"]
    for report in reports:
        lines += ["", f"{report.key}  ({report.name})"]
        if not report.exists:
            lines.append("    not in the workspace")
            continue
        lines.append(f"    state: {report.state.get('ready')}, {report.state.get('config_update')}")
        for entity in report.entities:
            lines.append(f"    served entity {entity['name']}: declared v{entity['declared_version'] or '-'}, live "
                         f"v{entity['live_version'] or '-'} {entity['state'] or ''}".rstrip())
        for aspect, pairs in (("traffic", report.traffic), ("grant", report.grants), ("tag", report.tags),
                              ("ai_gateway", report.ai_gateway)):
            for key, pair in pairs.items():
                mark = " " if pair["declared"] == pair["live"] else "!"
                lines.append(f"  {mark} {aspect} {key}: declared {_shown(pair['declared'])}, live "
                             f"{_shown(pair['live'])}")
        if report.deployer:
            lines.append(f"    grant {report.deployer}: CAN_MANAGE (the deploying identity, kept by Permissions)")
        if report.pending:
            lines.append(f"    pending config: {report.pending}")
        else:
            lines.append("    pending config: none")
    return "\n".join(lines)


def report_json(reports: Sequence[EndpointReport], host: str) -> dict[str, Any]:
    return {
        "host": host,
        "drift": any(report.drift for report in reports),
        "endpoints": [
            {
                "key": report.key, "name": report.name, "exists": report.exists, "state": report.state,
                "served_entities": report.entities, "traffic": report.traffic, "grants": report.grants,
                "tags": report.tags, "ai_gateway": report.ai_gateway, "pending_config": report.pending,
                "deployer": report.deployer, "summary": report.line(),
                "drift": [{"aspect": item.aspect, "message": item.message} for item in report.drift],
            }
            for report in reports
        ],
    }
