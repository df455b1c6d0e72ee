"""Adopting existing endpoints: `python -m review import --stack <stack> [--match PREFIX] [ENDPOINT ...]`.

Reads each live endpoint and its permissions (GET only) and writes, into `--output-dir` (default
`adopted/<stack>/`):
- `Pulumi.<stack>.yaml`: the stack file with the endpoints as entries of this project's schema (values
  only), the stack's other keys and endpoints kept; access that exists today and breaks the project's rules
  (`users` or another group with CAN_QUERY, several query principals, a user or a service principal with
  CAN_MANAGE, ...) is flagged as `# ADOPT:` comments and in the report, and is removed by the next `pulumi up`;
- `import.json`: the `pulumi import --file` document that adopts the endpoints rather than recreating them:
  each `ServingEndpoint` component (created empty, as the parent), its ModelServing (import id: the endpoint
  name) and its Permissions (import id: `/serving-endpoints/<endpoint id>`), named and parented as the
  component names its children, so the program's resources match them by type, name and parent.

Keys are the endpoint names without the stack's `name_prefix`. Settings that are not live state (readiness
and warmup, a rollout's gates) are kept from the stack file's entry of the same key, when it has one.
Plain-text credentials in environment variables are never copied: the entry says where one was.

Exit status: 0 written, and the stack file is valid; 2 invalid input (an unknown endpoint, an unreadable
stack file, a workspace that cannot be read); 3 a bug; 4 written, but an entry needs an edit before the stack
file is valid (the report names the key path), or an endpoint could not be adopted into this stack.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.config import (
    BROAD_PRINCIPALS,
    PROJECT,
    SECRET_NAME_PATTERN,
    SECRET_REFERENCE_PATTERN,
    TOKEN_VALUE_PATTERN,
    EndpointConfig,
    StackConfigError,
    parse_stack_config,
)
from components.stack_file import UnreadableStackFileError, read_stack_file
from review.engine import PROJECT_DIR, stack_file
from review.live import LiveReadError, direct_grants, live_client, live_traffic
from review.summary import MODEL_SERVING, PERMISSIONS, SERVING_ENDPOINT

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_FAILED = 3
EXIT_NEEDS_EDIT = 4
ENDPOINTS_KEY = f"{PROJECT}:endpoints"
DEFAULTS_KEY = f"{PROJECT}:defaults"
NOT_LIVE_STATE = ("readiness", "rollout", "recreate_on_description_change")
"""Entry keys with no live counterpart: kept from the stack file's entry of the same key."""


class AdoptError(Exception):
    """The endpoints cannot be adopted into the stack as asked (exit status 2)."""


@dataclass(frozen=True)
class Finding:
    """Something an adopted entry cannot carry over as it is, placed above `key` in the entry."""

    key: str
    """The entry's top-level key the comment goes above (`access`, `served_models`, ...), '' for the entry."""
    message: str
    breaks_rules: bool = True
    """Access or settings that exist today and break the project's rules (the next `pulumi up` changes them)."""


@dataclass
class Adopted:
    """One live endpoint as a stack-file entry, with what the entry could not carry over."""

    name: str
    key: str | None
    endpoint_id: str
    entry: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def _has_field(name: str) -> bool:
    """Whether today's stack config model has the endpoint key `name` (AI Gateway, route optimization)."""
    return name in EndpointConfig.model_fields


def _version(value: Any) -> Any:
    text = str(value)
    return int(text) if text.isdigit() else text


def _served_models(config: Mapping[str, Any], adopted: Adopted) -> list[dict[str, Any]]:
    models = []
    for entity in config.get("served_entities") or config.get("served_models") or []:
        model = entity.get("entity_name") or entity.get("model_name")
        version = entity.get("entity_version") or entity.get("model_version")
        served: dict[str, Any] = {"model": model, "version": _version(version)}
        if entity.get("name") and entity["name"] != f"{str(model).rsplit('.', 1)[-1]}-{version}":
            served["name"] = entity["name"]
        if entity.get("workload_size"):
            served["workload_size"] = entity["workload_size"]
        if entity.get("min_provisioned_concurrency") is not None or entity.get("max_provisioned_concurrency"):
            served["provisioned_concurrency"] = {"min": entity.get("min_provisioned_concurrency") or 0,
                                                 "max": entity.get("max_provisioned_concurrency")}
        if entity.get("workload_type") and entity["workload_type"] != "CPU":
            served["workload_type"] = entity["workload_type"]
        served["scale_to_zero"] = bool(entity.get("scale_to_zero_enabled"))
        variables: dict[str, Any] = {}
        for name, value in (entity.get("environment_vars") or {}).items():
            text = str(value)
            credential = (SECRET_NAME_PATTERN.search(name) or TOKEN_VALUE_PATTERN.search(text)) and not (
                SECRET_REFERENCE_PATTERN.match(text)
            )
            if credential:
                # Never copied: the stack file must not hold it, and the report must not show it.
                variables[name] = None
                adopted.findings.append(Finding(
                    "served_models", f"{served.get('name') or model} environment variable {name} holds a credential "
                    "in plain text on the live endpoint; not copied: store it as a Databricks secret and write "
                    "`{{secrets/<scope>/<key>}}`"))
            else:
                variables[name] = text
        if variables:
            served["environment_vars"] = variables
        models.append(served)
    return models


def _access(permissions: Mapping[str, Any], creator: str | None, adopted: Adopted) -> dict[str, Any]:
    grants = direct_grants(permissions)
    query = [p.split(":", 1)[1] for p, level in grants.items() if p.startswith("service_principal:")
             and level == "CAN_QUERY"]
    access: dict[str, Any] = {"query_service_principal": query[0] if query else None}
    if not query:
        adopted.findings.append(Finding(
            "access", "no service principal holds CAN_QUERY today: set query_service_principal to the application "
            "id of the one that calls this endpoint"))
    elif len(query) > 1:
        adopted.findings.append(Finding(
            "access", f"several query principals today ({', '.join(query)}); the stack grants CAN_QUERY to one, "
            f"{query[0]}: pulumi up removes the others' grants"))
    managers = []
    for principal, level in grants.items():
        kind, _, name = principal.partition(":")
        if kind == "group" and level == "CAN_MANAGE" and name not in BROAD_PRINCIPALS:
            managers.append(name)
        elif kind == "group":
            whom = "every workspace user" if name in BROAD_PRINCIPALS else f"group {name}"
            adopted.findings.append(Finding(
                "access", f"{whom} holds {level} today (`{name}`); groups only manage endpoints here, and never "
                "`users`, `account users` or `admins`: pulumi up removes the grant"))
        elif kind == "service_principal" and level == "CAN_QUERY":
            continue
        elif name == creator and level == "CAN_MANAGE":
            adopted.findings.append(Finding(
                "access", f"{kind.replace('_', ' ')} {name} created the endpoint and holds CAN_MANAGE; the "
                "Permissions resource keeps CAN_MANAGE only for the identity that runs pulumi up (deploy as a "
                "service principal: an endpoint runs as its creator)", breaks_rules=kind == "user"))
        else:
            adopted.findings.append(Finding(
                "access", f"{kind.replace('_', ' ')} {name} holds {level} today; the stack grants CAN_QUERY to one "
                "service principal and CAN_MANAGE to groups: pulumi up removes the grant"))
    if managers:
        access["manager_groups"] = managers
    return access


def _tags(endpoint: Mapping[str, Any], defaults: Mapping[str, Any], adopted: Adopted) -> dict[str, Any]:
    live = {tag["key"]: tag.get("value") for tag in endpoint.get("tags") or []}
    tags = {}
    for key, value in live.items():
        if value is None:
            adopted.findings.append(Finding("tags", f"tag {key} has no value live; written as empty text",
                                            breaks_rules=False))
            value = ""
        if defaults.get(key) != value:
            tags[key] = value
    for key in defaults:
        if key not in live:
            adopted.findings.append(Finding(
                "tags", f"tag {key} of the stack's defaults is not on the endpoint: pulumi up adds it",
                breaks_rules=False))
    return tags


def _gateway(endpoint: Mapping[str, Any], name: str, entry: dict[str, Any], adopted: Adopted) -> None:
    gateway = dict(endpoint.get("ai_gateway") or {})
    table = gateway.pop("inference_table_config", None) or (endpoint.get("config") or {}).get("auto_capture_config")
    if table and (table.get("catalog_name") or table.get("enabled")):
        inference = {"catalog": table.get("catalog_name"), "schema": table.get("schema_name")}
        if table.get("table_name_prefix") and table["table_name_prefix"] != name:
            inference["table_prefix"] = table["table_name_prefix"]
        if table.get("enabled") is False:
            inference["enabled"] = False
        entry["inference_table"] = inference
    gateway = {key: value for key, value in gateway.items() if value not in (None, [], {})}
    if not gateway:
        return
    if not _has_field("ai_gateway"):
        adopted.findings.append(Finding(
            "", f"the endpoint has an AI Gateway ({', '.join(sorted(gateway))}); this stack schema has no key "
            "for it yet"))
        return
    declared: dict[str, Any] = {}
    limits = []
    for limit in gateway.pop("rate_limits", None) or []:
        shown = {"calls": limit.get("calls")}
        if limit.get("key") and limit["key"] != "endpoint":
            shown["key"] = limit["key"]
        if limit.get("principal"):
            shown["principal"] = limit["principal"]
        limits.append(shown)
    if limits:
        declared["rate_limits"] = limits
    if (gateway.pop("usage_tracking_config", None) or {}).get("enabled"):
        declared["usage_tracking"] = True
    if (gateway.pop("fallback_config", None) or {}).get("enabled"):
        declared["fallback"] = True
    if gateway:
        adopted.findings.append(Finding(
            "ai_gateway", f"AI Gateway {', '.join(sorted(gateway))} not in the stack schema: not adopted"))
    if declared:
        entry["ai_gateway"] = declared


def adopt_endpoint(endpoint: Mapping[str, Any], permissions: Mapping[str, Any], prefix: str,
                   defaults_tags: Mapping[str, Any], existing: Mapping[str, Any] | None = None) -> Adopted:
    """One live endpoint (GET detail) and its permissions as a stack-file entry of a stack with `prefix`."""
    name = endpoint["name"]
    key = name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None
    adopted = Adopted(name, key, endpoint["id"])
    if key is None:
        adopted.findings.append(Finding(
            "", f"{name} does not start with the stack's name_prefix `{prefix}`: this stack cannot declare it "
            "without a new name (a new endpoint); adopt it into a stack whose prefix it has"))
        return adopted
    entry = adopted.entry
    if endpoint.get("description"):
        entry["description"] = endpoint["description"]
    config = endpoint.get("config") or {}
    if endpoint.get("pending_config"):
        adopted.findings.append(Finding(
            "", "an update is in progress: the active config is adopted; run the import again once it is over",
            breaks_rules=False))
    entry["served_models"] = _served_models(config, adopted)
    served = [model.get("name") or f"{str(model['model']).rsplit('.', 1)[-1]}-{model['version']}"
              for model in entry["served_models"]]
    routes = live_traffic(config)
    # In the order of served_models, as people write them; a route to an entity not served stays, for the model
    # to refuse.
    traffic = {name: routes[name] for name in served if name in routes} | routes
    if len(entry["served_models"]) > 1 or any(share != 100 for share in traffic.values()):
        entry["traffic"] = traffic
    entry["access"] = _access(permissions, endpoint.get("creator"), adopted)
    tags = _tags(endpoint, defaults_tags, adopted)
    if tags:
        entry["tags"] = tags
    _gateway(endpoint, name, entry, adopted)
    if endpoint.get("route_optimized"):
        if _has_field("route_optimized"):
            entry["route_optimized"] = True
        else:
            adopted.findings.append(Finding(
                "", "the endpoint is route-optimized; this stack schema cannot declare it: pulumi up would replace it"))
    notifications = {key: list(value) for key, value in (endpoint.get("email_notifications") or {}).items()
                     if key in ("on_update_success", "on_update_failure") and value}
    if notifications:
        entry["notifications"] = notifications
    for kept in NOT_LIVE_STATE:
        if existing and kept in existing:
            entry[kept] = existing[kept]
    if not (existing and "readiness" in existing):
        adopted.findings.append(Finding(
            "", "no readiness.warmup.input_example: pulumi up waits until the endpoint serves but warms nothing; "
            "add a request body", breaks_rules=False))
    return adopted


# --- writing -----------------------------------------------------------------------------------------


def _indented(document: Any, spaces: int) -> list[str]:
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=110, allow_unicode=True)
    return [(" " * spaces + line) if line else line for line in text.splitlines()]


COMMENT_WIDTH = 116


def comment(message: str, indent: int) -> list[str]:
    """`# ADOPT: message` at `indent`, wrapped so the stack file reads without scrolling."""
    first, rest = " " * indent + "# ADOPT: ", " " * indent + "#         "
    return textwrap.wrap(message, COMMENT_WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False)


def _entry_lines(adopted: Adopted, kept_from: str | None) -> list[str]:
    lines = []
    for finding in adopted.findings:
        if finding.key == "":
            lines += comment(finding.message, 4)
    lines.append(f"    {adopted.key}:")
    body = _indented(adopted.entry, 6)
    for line in body:
        stripped = line.strip()
        top = line.startswith("      ") and not line.startswith("       ")
        key = stripped.split(":", 1)[0] if top else None
        for finding in adopted.findings:
            if key and finding.key == key:
                lines += comment(finding.message, 6)
        if key in NOT_LIVE_STATE and kept_from:
            lines.append(f"      # kept from {kept_from}: not live state")
        lines.append(line)
    return lines


def stack_file_text(stack: str, host: str, document: Mapping[str, Any] | None, adopted: Sequence[Adopted],
                    source: str | None) -> str:
    """The stack file: the existing file's keys and endpoints, with the adopted endpoints in place of theirs."""
    config = dict((document or {}).get("config") or {})
    config.setdefault("databricks:host", host)
    endpoints = dict(config.pop(ENDPOINTS_KEY, None) or {})
    keys = {item.key for item in adopted}
    lines = [
        f"# Stack {stack}: written by `python -m review import --stack {stack}` from {host}; values only.",
        "# `# ADOPT:` lines flag what exists today and breaks this project's rules, or needs a decision.",
        "config:",
    ]
    lines += _indented(config, 2)
    lines.append(f"  {ENDPOINTS_KEY}:")
    kept = {key: value for key, value in endpoints.items() if key not in keys}
    if kept:
        lines += _indented(kept, 4)
    for item in adopted:
        lines += _entry_lines(item, source if source and item.key in endpoints else None)
    return "\n".join(lines) + "\n"


def import_file(adopted: Sequence[Adopted]) -> dict[str, Any]:
    """`pulumi import --file`: each component (created empty, the parent) with its ModelServing and Permissions."""
    from importlib.metadata import version

    provider = version("pulumi_databricks")
    resources: list[dict[str, Any]] = []
    for item in adopted:
        resources += [
            {"type": SERVING_ENDPOINT, "name": item.key, "component": True},
            # Terraform's databricks_model_serving (and so pulumi-databricks) is imported by the endpoint name.
            {"type": MODEL_SERVING, "name": f"{item.key}-endpoint", "id": item.name, "parent": item.key,
             "version": provider},
            # databricks_permissions: `/<request object type>/<object id>`, the endpoint's id, not its name.
            {"type": PERMISSIONS, "name": f"{item.key}-permissions", "id": f"/serving-endpoints/{item.endpoint_id}",
             "parent": item.key, "version": provider},
        ]
    return {"resources": resources}


def _validate(stack: str, text: str) -> list[str]:
    document = yaml.safe_load(text)
    config = document.get("config") or {}
    values = {key[len(PROJECT) + 1:]: value for key, value in config.items() if key.startswith(f"{PROJECT}:")}
    try:
        parse_stack_config(stack, values)
    except StackConfigError as error:
        return list(error.problems)
    return []


# --- the command -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m review import",
        description="Adopt existing serving endpoints into a stack: stack-file entries and a pulumi import file.",
        epilog="exit status: 0 written and valid, 2 invalid input or an unreadable workspace, 3 a bug, "
        "4 written but an entry needs an edit (see the report)",
    )
    parser.add_argument("--stack", required=True, help="the stack to adopt into (its Pulumi.<stack>.yaml if any)")
    parser.add_argument("endpoints", nargs="*", metavar="ENDPOINT", help="endpoint names in the workspace")
    parser.add_argument("--match", metavar="PREFIX",
                        help="without ENDPOINTs: every endpoint whose name starts with PREFIX (default: name_prefix)")
    parser.add_argument("--name-prefix", help="the stack's name_prefix when it has no stack file yet")
    parser.add_argument("--output-dir", type=Path, help="where to write (default: adopted/<stack>)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def run(args: argparse.Namespace, project_dir: Path) -> tuple[int, dict[str, Any]]:
    from serving.workspace import ServingApiError, get_permissions, list_endpoints

    path = stack_file(args.stack, project_dir)
    try:
        document = read_stack_file(path).document if path.is_file() else None
    except UnreadableStackFileError as error:
        raise AdoptError(str(error)) from None
    config = (document or {}).get("config") or {}
    defaults = config.get(DEFAULTS_KEY) or {}
    prefix = args.name_prefix if args.name_prefix is not None else str(defaults.get("name_prefix") or "")
    existing = config.get(ENDPOINTS_KEY) or {}
    client = live_client(str(config.get("databricks:host") or "") or None)
    try:
        names = list(args.endpoints)
        if not names:
            match = args.match if args.match is not None else prefix
            names = sorted(item["name"] for item in list_endpoints(client) if item["name"].startswith(match))
        adopted = []
        for name in names:
            endpoint = client.get_endpoint(name)
            if endpoint is None:
                raise LiveReadError(f"endpoint {name} does not exist in {client.host}")
            permissions = get_permissions(client, endpoint["id"])
            key = name[len(prefix):] if name.startswith(prefix) else None
            adopted.append(adopt_endpoint(endpoint, permissions, prefix, defaults.get("tags") or {},
                                          existing.get(key) if key else None))
    except ServingApiError as error:
        raise LiveReadError(str(error)) from None
    except OSError as error:
        raise LiveReadError(f"cannot reach the workspace {client.host}: {type(error).__name__}") from None

    placed = [item for item in adopted if item.key is not None]
    output = args.output_dir or Path("adopted") / args.stack
    output.mkdir(parents=True, exist_ok=True)
    text = stack_file_text(args.stack, client.host, document, placed, path.name if document else None)
    written = output / f"Pulumi.{args.stack}.yaml"
    written.write_text(text)
    (output / "import.json").write_text(json.dumps(import_file(placed), indent=2) + "\n")
    problems = _validate(args.stack, text)
    report = {
        "stack": args.stack,
        "host": client.host,
        "stack_file": str(written),
        "import_file": str(output / "import.json"),
        "endpoints": [
            {"name": item.name, "key": item.key, "id": item.endpoint_id,
             "findings": [{"key": f.key, "message": f.message, "breaks_rules": f.breaks_rules} for f in item.findings]}
            for item in adopted
        ],
        "problems": problems,
    }
    status = EXIT_NEEDS_EDIT if problems or len(placed) < len(adopted) else EXIT_OK
    report["exit_code"] = status
    return status, report


def render(report: Mapping[str, Any]) -> str:
    lines = [f"Adopted from {report['host']} into stack {report['stack']}:"]
    for endpoint in report["endpoints"]:
        where = f"as {endpoint['key']}" if endpoint["key"] else "NOT adopted"
        lines.append(f"  {endpoint['name']} ({endpoint['id']}) {where}")
        for finding in endpoint["findings"]:
            mark = "!" if finding["breaks_rules"] else "-"
            lines.append(f"    {mark} {finding['key'] or 'endpoint'}: {finding['message']}")
    lines += [f"Wrote {report['stack_file']} and {report['import_file']}."]
    if report["problems"]:
        lines.append("The stack file needs an edit before it is valid:")
        lines += [f"  {problem}" for problem in report["problems"]]
    lines += [
        "Next (README, \"Adopting existing endpoints\"): review the file, copy it to Pulumi.<stack>.yaml, then",
        f"  pulumi stack select {report['stack']}",
        f"  pulumi import --file {report['import_file']} --protect=false --generate-code=false --yes",
        "  pulumi preview --diff    # no replace of an endpoint; readiness resources to create",
        "  pulumi up",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, project_dir: Path = PROJECT_DIR) -> int:
    args = _parser().parse_args(argv)
    try:
        status, report = run(args, project_dir)
    except (AdoptError, LiveReadError) as error:
        message = f"import: {error}"
        if args.json:
            print(json.dumps({"stack": args.stack, "error": message, "exit_code": EXIT_INVALID}, indent=2))
        else:
            print(message, file=sys.stderr)
        return EXIT_INVALID
    except Exception:  # noqa: BLE001 - a bug, never confused with a verdict
        traceback.print_exc()
        print("the import itself failed (exit status 3); this is a bug", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(report, indent=2) if args.json else render(report))
    return status
