"""Adopting existing endpoints: `python -m review import --stack <stack> [--match PREFIX] [ENDPOINT ...]`.

Reads each live endpoint and its permissions (GET only) and writes, into `--output-dir` (default
`adopted/<stack>/`):
- `Pulumi.<stack>.yaml`: the stack file rewritten in place (a round trip: its comments, key order and every
  value the import does not change are kept as written), with the endpoints as entries of this project's
  schema (values only); every direct grant beyond the secure default (another query principal, a group
  below CAN_MANAGE, `users`, a person) is declared under `access.grants`, for the policy pack to judge as the
  stack's `policy` section says; what needs a decision is flagged as `# ADOPT:` comments and in the report;
- `import.json`: the `pulumi import --file` document that adopts the endpoints rather than recreating them:
  each `ServingEndpoint` component (created empty, as the parent), its ModelServing (import id: the endpoint
  name) and its Permissions (import id: `/serving-endpoints/<endpoint id>`), named and parented as the
  component names its children, so the program's resources match them by type, name and parent.

Keys are the endpoint names without the stack's `name_prefix`. Settings that are not live state (readiness
and warmup, a rollout's gates) are kept from the stack file's entry of the same key, when it has one, and so
is every declared value that means what the live one means (`workload_type: CPU` written out, a default tag
repeated); every other declared value the live endpoint contradicts is overwritten and reported, key path by
key path (declared -> live). Plain-text credentials in environment variables are never copied: the entry says
where one was. The CAN_MANAGE the deploying identity holds (the principal the import runs as, SCIM `Me`) is
the one the Permissions resource adds itself (Terraform's `AddCurrentUserAsManage`): neither a finding nor a
declared grant. The written stack file is then run under the mock engine and judged by the policy pack, as
`python -m review <stack>` does.

Exit status: 0 written, valid, no mandatory policy violation; 1 written, with a mandatory policy violation;
2 invalid input (an unknown endpoint, nothing matching, an endpoint or listing the principal may not read, an
unreadable stack file or policy config, a workspace that cannot be read), nothing written; 3 a bug; 4 written,
but an entry needs an edit before the stack file is valid (the report names the key path), or an endpoint
could not be adopted into this stack. 1 wins over 4.
"""

from __future__ import annotations

import argparse
import copy
import io
import itertools
import json
import re
import sys
import textwrap
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.config import (
    ADMINS_GROUP,
    BROAD_PRINCIPALS,
    PROJECT,
    EndpointConfig,
    StackConfigError,
    default_served_entity_name,
    is_plaintext_credential,
    parse_stack_config,
    principal_identity,
)
from components.stack_file import KeyPath, StackFile, UnreadableStackFileError, read_stack_file
from policy.rules import PolicyConfigError, Verdict
from review.engine import PROJECT_DIR, run_program, stack_file
from review.live import RANK, LiveReadError, direct_grants, live_client, live_traffic
from review.policy_check import check_run, load_policy_config, mandatory_violations, render_verdicts, verdicts_json
from review.summary import MODEL_SERVING, PERMISSIONS, SERVING_ENDPOINT
from serving import model as live_model

EXIT_OK = 0
EXIT_MANDATORY_VIOLATION = 1
EXIT_INVALID = 2
EXIT_FAILED = 3
EXIT_NEEDS_EDIT = 4
ENDPOINTS_KEY = f"{PROJECT}:endpoints"
DEFAULTS_KEY = f"{PROJECT}:defaults"
NOT_LIVE_STATE = ("readiness", "rollout", "recreate_on_description_change", "monitoring")
"""Entry keys with no live counterpart on the endpoint: kept from the stack file's entry of the same key
(`monitoring` declares other resources, alerts and a drift monitor, which the import does not read)."""


class AdoptError(Exception):
    """The endpoints cannot be adopted into the stack as asked (exit status 2); nothing is written."""

    def __init__(self, message: str, kind: str = "invalid_input"):
        super().__init__(message)
        self.kind = kind
        """`invalid_input`, `nothing_matching`, `permission_denied` or `live_read_failed` (in the JSON error)."""


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


def _served_models(config: live_model.EndpointConfig | None, adopted: Adopted) -> list[dict[str, Any]]:
    return [_served_model(entity, adopted) for entity in (config.served_entities if config else ())]


def _served_model(entity: live_model.ServedEntity, adopted: Adopted) -> dict[str, Any]:
    """One live served entity as a `served_models` item; a credential in plain text is not copied (a finding)."""
    model, version = entity.entity_name, entity.entity_version
    served: dict[str, Any] = {"model": model, "version": _version(version)}
    if entity.name and entity.name != default_served_entity_name(str(model), str(version)):
        served["name"] = entity.name
    if entity.workload_size:
        served["workload_size"] = entity.workload_size
    if entity.min_provisioned_concurrency is not None or entity.max_provisioned_concurrency:
        served["provisioned_concurrency"] = {
            "min": entity.min_provisioned_concurrency or 0,
            "max": entity.max_provisioned_concurrency,
        }
    if entity.workload_type and entity.workload_type != "CPU":
        served["workload_type"] = entity.workload_type
    served["scale_to_zero"] = entity.scale_to_zero_enabled
    variables: dict[str, Any] = {}
    for name, value in entity.environment_vars.items():
        text = str(value)
        if is_plaintext_credential(name, text):
            # Never copied: the stack file must not hold it, and the report must not show it.
            variables[name] = None
            adopted.findings.append(
                Finding(
                    "served_models",
                    f"{served.get('name') or model} environment variable {name} holds a credential "
                    "in plain text on the live endpoint; not copied: store it as a Databricks secret and write "
                    "`{{secrets/<scope>/<key>}}`",
                )
            )
        else:
            variables[name] = text
    if variables:
        served["environment_vars"] = variables
    return served


def is_deployer(principal: str, deployer: str | None) -> bool:
    """Whether `principal` (a user name or application id) is the deploying identity: case-insensitively, as
    Terraform's `AddCurrentUserAsManage` and its read of the permissions compare them (`strings.EqualFold`)."""
    return bool(deployer) and principal.casefold() == str(deployer).casefold()


class FlowMap(dict[str, Any]):
    """A mapping written in flow style (`{group: support, level: CAN_VIEW}`), as the README writes grants."""


def _access(
    permissions: Mapping[str, Any],
    creator: str | None,
    deployer: str | None,
    declared: Mapping[str, Any] | None,
    adopted: Adopted,
) -> dict[str, Any]:
    """The live direct grants in the access schema: the query service principal, the manager groups, and every
    other grant under `grants`, each principal once at its highest direct level, in the live list's order."""
    grants = _stack_grants(permissions, deployer, adopted)
    kept = str((declared if isinstance(declared, Mapping) else {}).get("query_service_principal") or "")
    chosen = _query_principal(grants, kept, adopted)
    access: dict[str, Any] = {"query_service_principal": chosen}
    managers, extra = _managers_and_grants(grants, chosen, creator, deployer, adopted)
    if managers:
        access["manager_groups"] = managers
    if extra:
        access["grants"] = extra
    return access


def _stack_grants(
    permissions: Mapping[str, Any], deployer: str | None, adopted: Adopted
) -> dict[str, tuple[str, str, str]]:
    """Principal identity -> (kind, name, highest direct level) of the grants the stack declares."""
    grants: dict[str, tuple[str, str, str]] = {}
    for principal, level in direct_grants(permissions).items():
        kind, _, name = principal.partition(":")
        # As Terraform's read of a serving endpoint's permissions: the deployer's own grant is the one the
        # Permissions resource adds (at CAN_MANAGE) to every list it writes, and the admins' grant cannot be
        # changed (admins manage every endpoint); neither is the stack's to declare.
        if is_deployer(name, deployer):
            if level != "CAN_MANAGE":
                adopted.findings.append(
                    Finding(
                        "access",
                        f"the deploying identity {name} holds {level} today; pulumi up gives it CAN_MANAGE "
                        "(the Permissions resource keeps it for the identity that runs pulumi up)",
                        breaks_rules=False,
                    )
                )
            continue
        if kind == "group" and name.strip().lower() == ADMINS_GROUP:
            continue
        # How the config model tells principals apart (application ids and e-mails whatever their case).
        identity = principal_identity(kind, name)
        if identity in grants:
            kind, name, held = grants[identity]
            level = max(level, held, key=RANK.__getitem__)
        grants[identity] = (kind, name, level)
    return grants


def _query_principal(grants: Mapping[str, tuple[str, str, str]], kept: str, adopted: Adopted) -> str | None:
    """The service principal with CAN_QUERY: the one the stack file names if it still has it, else the first."""
    query = [name for kind, name, level in grants.values() if kind == "service_principal" and level == "CAN_QUERY"]
    chosen = next((name for name in query if name.lower() == kept.lower()), query[0] if query else None)
    if chosen is None:
        adopted.findings.append(
            Finding(
                "access",
                "no service principal holds CAN_QUERY today: set query_service_principal to the application "
                "id of the one that calls this endpoint",
            )
        )
    return chosen


def _managers_and_grants(
    grants: Mapping[str, tuple[str, str, str]],
    chosen: str | None,
    creator: str | None,
    deployer: str | None,
    adopted: Adopted,
) -> tuple[list[str], list[dict[str, str]]]:
    """The groups that manage the endpoint (`manager_groups`), and every other grant as it is today (`grants`)."""
    managers: list[str] = []
    extra: list[dict[str, str]] = []
    for kind, name, level in grants.values():
        if kind == "service_principal" and name == chosen:
            continue
        if kind == "group" and level == "CAN_MANAGE" and name.strip().lower() not in BROAD_PRINCIPALS:
            managers.append(name)
            continue
        # Declared as it is today; the policy pack judges it by the stack's `policy` section.
        extra.append(FlowMap({kind: name, "level": level}))
        if kind == "user" and creator and name.casefold() == creator.casefold() and level == "CAN_MANAGE":
            adopted.findings.append(
                Finding(
                    "access",
                    f"user {name} created the endpoint and holds CAN_MANAGE, but the import runs as "
                    f"{deployer or 'an unknown identity'}: declared as a grant, since the Permissions resource keeps "
                    "CAN_MANAGE only for the identity that runs pulumi up (deploy as a service principal: an endpoint "
                    "runs as its creator)",
                    breaks_rules=False,
                )
            )
    return managers, extra


def _tags(endpoint: Mapping[str, Any], defaults: Mapping[str, Any], adopted: Adopted) -> dict[str, Any]:
    live = {tag["key"]: tag.get("value") for tag in endpoint.get("tags") or []}
    tags = {}
    for key, value in live.items():
        if value is None:
            adopted.findings.append(
                Finding("tags", f"tag {key} has no value live; written as empty text", breaks_rules=False)
            )
            value = ""
        if defaults.get(key) != value:
            tags[key] = value
    for key in defaults:
        if key not in live:
            adopted.findings.append(
                Finding(
                    "tags",
                    f"tag {key} of the stack's defaults is not on the endpoint: pulumi up adds it",
                    breaks_rules=False,
                )
            )
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
        adopted.findings.append(
            Finding(
                "",
                f"the endpoint has an AI Gateway ({', '.join(sorted(gateway))}); this stack schema has no key "
                "for it yet",
            )
        )
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
        adopted.findings.append(
            Finding("ai_gateway", f"AI Gateway {', '.join(sorted(gateway))} not in the stack schema: not adopted")
        )
    if declared:
        entry["ai_gateway"] = declared


def adopt_endpoint(
    endpoint: Mapping[str, Any],
    permissions: Mapping[str, Any],
    prefix: str,
    defaults_tags: Mapping[str, Any],
    existing: Mapping[str, Any] | None = None,
    deployer: str | None = None,
) -> Adopted:
    """One live endpoint (GET detail) and its permissions as a stack-file entry of a stack with `prefix`.

    `deployer` is the identity that deploys (runs the import and pulumi up): its CAN_MANAGE is not adopted.
    """
    name = endpoint["name"]
    key = name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else None
    adopted = Adopted(name, key, endpoint["id"])
    if key is None:
        adopted.findings.append(
            Finding(
                "",
                f"{name} does not start with the stack's name_prefix `{prefix}`: this stack cannot declare it "
                "without a new name (a new endpoint); adopt it into a stack whose prefix it has",
            )
        )
        return adopted
    entry = adopted.entry
    if endpoint.get("description"):
        entry["description"] = endpoint["description"]
    if endpoint.get("pending_config"):
        adopted.findings.append(
            Finding(
                "",
                "an update is in progress: the active config is adopted; run the import again once it is over",
                breaks_rules=False,
            )
        )
    _adopt_served_models(live_model.EndpointConfig.parse(endpoint.get("config")), entry, adopted)
    entry["access"] = _access(permissions, endpoint.get("creator"), deployer, (existing or {}).get("access"), adopted)
    tags = _tags(endpoint, defaults_tags, adopted)
    if tags:
        entry["tags"] = tags
    _gateway(endpoint, name, entry, adopted)
    _adopt_route_optimized(endpoint, entry, adopted)
    notifications = {
        key: list(value)
        for key, value in (endpoint.get("email_notifications") or {}).items()
        if key in ("on_update_success", "on_update_failure") and value
    }
    if notifications:
        entry["notifications"] = notifications
    _keep_what_is_not_live(existing, entry, adopted)
    return adopted


def _adopt_served_models(config: live_model.EndpointConfig | None, entry: dict[str, Any], adopted: Adopted) -> None:
    """The active config's served entities as `served_models`, and its routes as `traffic` unless one model
    takes it all (the stack's default)."""
    entry["served_models"] = _served_models(config, adopted)
    served = [
        model.get("name") or default_served_entity_name(str(model["model"]), model["version"])
        for model in entry["served_models"]
    ]
    routes = live_traffic(config)
    # In the order of served_models, as people write them; a route to an entity not served stays, for the model
    # to refuse.
    traffic = {name: routes[name] for name in served if name in routes} | routes
    if len(entry["served_models"]) > 1 or any(share != 100 for share in traffic.values()):
        entry["traffic"] = traffic


def _adopt_route_optimized(endpoint: Mapping[str, Any], entry: dict[str, Any], adopted: Adopted) -> None:
    if not endpoint.get("route_optimized"):
        return
    if _has_field("route_optimized"):
        entry["route_optimized"] = True
    else:
        adopted.findings.append(
            Finding(
                "",
                "the endpoint is route-optimized; this stack schema cannot declare it: pulumi up would replace it",
            )
        )


def _keep_what_is_not_live(existing: Mapping[str, Any] | None, entry: dict[str, Any], adopted: Adopted) -> None:
    """What the workspace does not hold (readiness, rollout, ...) stays as the stack file declared it."""
    for kept in NOT_LIVE_STATE:
        if existing and kept in existing:
            entry[kept] = existing[kept]
    if not (existing and "readiness" in existing):
        adopted.findings.append(
            Finding(
                "",
                "no readiness.warmup.input_example: pulumi up waits until the endpoint serves but warms nothing; "
                "add a request body",
                breaks_rules=False,
            )
        )


# --- what the declared file said, and what stays of it -------------------------------------------------

_ABSENT = object()
"""A key the file (or the live endpoint) does not have."""


@dataclass(frozen=True)
class Change:
    """One value the import writes over what the stack file declared."""

    path: str
    """The stack-file key path: `endpoints.<key>.traffic.risk_classifier-4`, `databricks:host`."""
    declared: Any
    live: Any

    def line(self) -> str:
        return f"{self.path}: {_shown(self.path, self.declared)} -> {_shown(self.path, self.live)}"

    def json(self) -> dict[str, Any]:
        """`declared` or `live` left out where that side has no such key (`null` is a value)."""
        shown = {"path": self.path}
        for side, value in (("declared", self.declared), ("live", self.live)):
            if value is not _ABSENT:
                shown[side] = "[value not shown]" if _hidden(self.path) and value is not None else value
        return shown


def _hidden(path: str) -> bool:
    # Environment variables are compared but never shown (the live report's rule): a value may be a credential.
    return ".environment_vars." in path or path.endswith(".environment_vars")


def _shown(path: str, value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    if _hidden(path) and value is not None:
        return "[value not shown]"
    return value if isinstance(value, str) else json.dumps(value)


def _paired(declared: Any, live: Any) -> bool:
    """Lists of mappings of one length are compared item by item (served models, rate limits)."""
    return (
        isinstance(declared, list)
        and isinstance(live, list)
        and len(declared) == len(live)
        and all(isinstance(item, Mapping) for item in [*declared, *live])
    )


def _same(declared: Any, live: Any) -> bool:
    return type(declared) is type(live) and declared == live


def differences(declared: Any, live: Any, path: KeyPath = ()) -> list[tuple[KeyPath, Any, Any]]:
    """Every leaf where `live` differs from `declared`: (key path, declared value, live value)."""
    if isinstance(declared, Mapping) and isinstance(live, Mapping):
        found = []
        for key in [*declared, *(key for key in live if key not in declared)]:
            found += differences(declared.get(key, _ABSENT), live.get(key, _ABSENT), (*path, key))
        return found
    if _paired(declared, live):
        return [
            change
            for index, (was, now) in enumerate(zip(declared, live, strict=True))
            for change in differences(was, now, (*path, index))
        ]
    return [] if _same(declared, live) else [(path, declared, live)]


def key_path(prefix: str, path: KeyPath) -> str:
    text = prefix
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _put(document: Any, path: KeyPath, value: Any) -> None:
    *parents, last = path
    for part in parents:
        document = document[part]
    if value is _ABSENT:
        del document[last]
    else:
        document[last] = copy.deepcopy(value)


def _meaning(stack: str, defaults: Any, key: str, entry: Mapping[str, Any]) -> Any:
    """What the config model makes of `entry` (defaults resolved), or None where it refuses it.

    Without its `monitoring` block: that names the stack's notification destinations, which are not given
    here, and declares other resources than the endpoint whose meaning is compared."""
    entry = {name: value for name, value in entry.items() if name != "monitoring"}
    values = {"endpoints": {key: entry}} | ({"defaults": defaults} if defaults is not None else {})
    try:
        spec = parse_stack_config(stack, values).spec(key)
    except (StackConfigError, KeyError, TypeError, ValueError):
        return None
    return spec.name, spec.endpoint.model_dump(mode="json", exclude={"tags"}), dict(spec.tags)


def kept_as_declared(
    stack: str, defaults: Any, key: str, declared: Mapping[str, Any], live: Mapping[str, Any]
) -> dict[str, Any]:
    """The entry to write: `live`, except where the declared value means the same to the config model.

    `workload_type: CPU` written out, a version quoted, a default tag repeated: the file keeps its own way of
    saying what the endpoint serves, and only what the workspace contradicts is overwritten. Where the config
    model refuses the live entry (it needs an edit) nothing can be judged equal, so only exact equals stay.
    """
    entry = copy.deepcopy(dict(live))
    meaning = _meaning(stack, defaults, key, live)
    if meaning is None:
        return entry
    for path, was, _ in differences(declared, live):
        candidate = copy.deepcopy(entry)
        try:
            _put(candidate, path, was)
        except (KeyError, IndexError, TypeError):
            continue
        if _meaning(stack, defaults, key, candidate) == meaning:
            entry = candidate
    return entry


# --- writing: a round trip of the stack file -------------------------------------------------------------

COMMENT_WIDTH = 116


def comment(message: str, indent: int) -> list[str]:
    """`# ADOPT: message` at `indent`, wrapped so the stack file reads without scrolling."""
    first, rest = " " * indent + "# ADOPT: ", " " * indent + "#         "
    return textwrap.wrap(
        message,
        COMMENT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _comment_text(messages: Sequence[str], indent: int) -> str:
    """The text ruamel.yaml puts after `# ` on each line before a key."""
    return "\n".join(line.strip()[2:] for message in messages for line in comment(message, indent))


def _yaml(indent: tuple[int, int, int]) -> Any:
    """A round-trip YAML of ruamel.yaml: comments, key order, quotes and flow style as the file has them."""
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long value the file holds on one line
    mapping, sequence, offset = indent
    rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    rt.representer.add_representer(
        type(None), lambda dumper, _: dumper.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return rt


_KEY_LINE = re.compile(r"^( *)[^\s#-][^:]*:\s*(#.*)?$")
_ITEM_LINE = re.compile(r"^( *)- ")


def file_indent(text: str) -> tuple[int, int, int]:
    """The file's (mapping indent, sequence indent, dash offset), so that rewritten lines look like their
    neighbours; the project's own files use (2, 4, 2)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    mapping = next((len(line) - len(line.lstrip()) for line in lines if line.startswith(" ")), 2) or 2
    for above, line in itertools.pairwise(lines):
        key, item = _KEY_LINE.match(above), _ITEM_LINE.match(line)
        if key and item:
            offset = max(0, len(item.group(1)) - len(key.group(1)))
            return mapping, offset + 2, offset
    return mapping, mapping + 2, mapping


def _commented(value: Any) -> Any:
    """Plain values as ruamel.yaml's round-trip types, which can carry comments."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, Mapping):
        node = CommentedMap((key, _commented(item)) for key, item in value.items())
        if isinstance(value, FlowMap):
            node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        return CommentedSeq(_commented(item) for item in value)
    return value


def _apply(node: Any, declared: Any, target: Mapping[str, Any]) -> None:
    """Make the round-trip mapping `node` hold `target`, touching only what differs from `declared`."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    declared = declared if isinstance(declared, Mapping) else {}
    for key in [key for key in node if key not in target]:
        del node[key]
    order = list(target)
    for position, (key, value) in enumerate(target.items()):
        if key in node:
            if key in declared and _same(declared[key], value):
                continue
            held = node[key]
            if isinstance(held, CommentedMap) and isinstance(value, Mapping):
                _apply(held, declared.get(key), value)
            elif isinstance(held, CommentedSeq) and _paired(list(held), value):
                was = declared.get(key) if _paired(declared.get(key), value) else [{}] * len(value)
                for item, before, now in zip(held, was, value, strict=True):
                    _apply(item, before, now)
            else:
                node[key] = _commented(value)
            continue
        # A new key goes after the key it follows in the entry as the import writes it.
        earlier = [k for k in order[:position] if k in node]
        node.insert(list(node).index(earlier[-1]) + 1 if earlier else 0, key, _commented(value))


_FINDING_START = re.compile(r"^ *# ADOPT: ")
_FINDING_MORE = re.compile(r"^ *#         \S")


def without_old_findings(text: str, document: Any, keys: set[str]) -> str:
    """`text` less the `# ADOPT:` comments a former import left in the entries of `keys` (this import writes
    them anew), so that importing again does not pile them up; other entries keep theirs."""
    # ruamel's round-trip nodes are untyped; each step checks what it reads.
    config: Any = document.get("config") if hasattr(document, "get") else None
    endpoints: Any = config.get(ENDPOINTS_KEY) if hasattr(config, "get") else None
    if not hasattr(endpoints, "lc") or not keys:
        return text
    starts = sorted((endpoints.lc.key(key)[0], key) for key in endpoints)
    following = [
        line
        for line, _ in (sorted((config.lc.key(key)[0], key) for key in config))
        if line > (starts[-1][0] if starts else 0)
    ]
    ends = [line for line, _ in starts[1:]] + [following[0] if following else 1 << 30]
    spans = [(start, end) for (start, key), end in zip(starts, ends, strict=True) if key in keys]
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    block: list[str] = []
    for number, line in enumerate(lines):
        if _FINDING_START.match(line) or (block and _FINDING_MORE.match(line)):
            block.append(line)
            continue
        if block and not any(start <= number < end for start, end in spans):
            kept += block
        block = []
        kept.append(line)
    return "".join(kept + block)


def _place_findings(endpoints: Any, item: Adopted, indent: int) -> None:
    """The `# ADOPT:` comments: above the entry's key they concern, or above the entry."""
    entry = endpoints[item.key]
    by_key: dict[str, list[str]] = {}
    for finding in item.findings:
        key = finding.key if finding.key and finding.key in entry else ""
        by_key.setdefault(key, []).append(finding.message)
    for key, messages in by_key.items():
        if key:
            entry.yaml_set_comment_before_after_key(key, before=_comment_text(messages, 3 * indent), indent=3 * indent)
        else:
            endpoints.yaml_set_comment_before_after_key(
                item.key, before=_comment_text(messages, 2 * indent), indent=2 * indent
            )


@dataclass
class Rewrite:
    """The stack file as written, and what it changed from the declared one."""

    text: str
    entries: dict[str, dict[str, Any]]
    """Key -> the entry written."""
    changes: dict[str, list[Change]]
    """Key -> what the entry changed from the declared one (a new entry: none, see `new`)."""
    new: set[str]
    """Keys the declared file had no entry for."""
    stack_changes: list[Change] = field(default_factory=list)
    """Changes outside the endpoints (a workspace host the file lacked)."""


def rewrite_stack_file(
    stack: str, host: str, declared: StackFile | None, adopted: Sequence[Adopted], name_prefix: str
) -> Rewrite:
    """The declared stack file with the adopted endpoints in place of its entries of the same key, as a round
    trip: the file's comments, key order and every untouched value stay as written."""
    from ruamel.yaml.comments import CommentedMap

    plain = dict(((declared.document if declared else None) or {}).get("config") or {})
    listed = plain.get(ENDPOINTS_KEY)
    declared_entries: Mapping[str, Any] = listed if isinstance(listed, Mapping) else {}
    defaults = plain.get(DEFAULTS_KEY)
    text = declared.path.read_text(encoding="utf-8") if declared else ""
    indent = file_indent(text) if declared else (2, 4, 2)
    rt = _yaml(indent)
    document = rt.load(text) if declared else None
    if declared and document is not None:
        cleaned = without_old_findings(text, document, {item.key for item in adopted if item.key})
        document = rt.load(cleaned) if cleaned != text else document
    stack_changes: list[Change] = []
    if not isinstance(document, CommentedMap):
        document = CommentedMap()
        document.yaml_set_start_comment(
            f"Stack {stack}: written by `python -m review import --stack {stack}` from {host}; values only.\n"
            "`# ADOPT:` lines flag what exists today and breaks this project's rules, or needs a decision."
        )
    config = document.get("config")
    if not isinstance(config, CommentedMap):
        config = document["config"] = CommentedMap()
    if not config.get("databricks:host"):
        config.insert(0, "databricks:host", host)
        stack_changes.append(Change("databricks:host", plain.get("databricks:host", _ABSENT), host))
    if declared is None and name_prefix:
        config[DEFAULTS_KEY] = {"name_prefix": name_prefix}
        defaults = {"name_prefix": name_prefix}
    endpoints = config.get(ENDPOINTS_KEY)
    if not isinstance(endpoints, CommentedMap):
        endpoints = config[ENDPOINTS_KEY] = CommentedMap()
    entries, changes, new = {}, {}, set()
    for item in adopted:
        assert item.key is not None
        was = declared_entries.get(item.key)
        if isinstance(was, Mapping) and isinstance(endpoints.get(item.key), CommentedMap):
            entry = kept_as_declared(stack, defaults, item.key, was, item.entry)
            _apply(endpoints[item.key], was, entry)
            changes[item.key] = [
                Change(key_path(f"endpoints.{item.key}", path), before, after)
                for path, before, after in differences(was, entry)
            ]
        else:
            entry = copy.deepcopy(item.entry)
            endpoints[item.key] = _commented(entry)
            changes[item.key] = []
            new.add(item.key)
        entries[item.key] = entry
        _place_findings(endpoints, item, indent[0])
    stream = io.StringIO()
    rt.dump(document, stream)
    return Rewrite(stream.getvalue(), entries, changes, new, stack_changes)


def import_file(adopted: Sequence[Adopted]) -> dict[str, Any]:
    """`pulumi import --file`: each component (created empty, the parent) with its ModelServing and Permissions."""
    from importlib.metadata import version

    provider = version("pulumi_databricks")
    resources: list[dict[str, Any]] = []
    for item in adopted:
        resources += [
            {"type": SERVING_ENDPOINT, "name": item.key, "component": True},
            # Terraform's databricks_model_serving (and so pulumi-databricks) is imported by the endpoint name.
            {
                "type": MODEL_SERVING,
                "name": f"{item.key}-endpoint",
                "id": item.name,
                "parent": item.key,
                "version": provider,
            },
            # databricks_permissions: `/<request object type>/<object id>`, the endpoint's id, not its name.
            {
                "type": PERMISSIONS,
                "name": f"{item.key}-permissions",
                "id": f"/serving-endpoints/{item.endpoint_id}",
                "parent": item.key,
                "version": provider,
            },
        ]
    return {"resources": resources}


def judge(
    stack: str, written: Path, project_dir: Path, pack_config: Mapping[str, Any] | None
) -> tuple[list[str], list[Verdict] | None]:
    """The written stack file as the offline review judges it: (the config model's problems, the policy
    pack's verdicts; None when the file is invalid, since the program then declares nothing to judge)."""
    try:
        run = run_program(stack, project_dir=project_dir, source=read_stack_file(written))
    except StackConfigError as error:
        return list(error.problems), None
    return [], check_run(run, pack_config)


# --- the command -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m review import",
        description="Adopt existing serving endpoints into a stack: stack-file entries and a pulumi import file.",
        epilog="exit status: 0 written, valid, no mandatory policy violation; 1 written, with a mandatory policy "
        "violation; 2 invalid input, nothing matching, an endpoint the principal may not read or an unreadable "
        "workspace (nothing written); 3 a bug; 4 written but an entry needs an edit (see the report)",
    )
    parser.add_argument("--stack", required=True, help="the stack to adopt into (its Pulumi.<stack>.yaml if any)")
    parser.add_argument("endpoints", nargs="*", metavar="ENDPOINT", help="endpoint names in the workspace")
    parser.add_argument(
        "--match",
        metavar="PREFIX",
        help="without ENDPOINTs: every endpoint whose name starts with PREFIX (default: name_prefix)",
    )
    parser.add_argument("--name-prefix", help="the stack's name_prefix when it has no stack file yet")
    parser.add_argument("--output-dir", type=Path, help="where to write (default: adopted/<stack>)")
    parser.add_argument(
        "--policy-config",
        type=Path,
        metavar="PATH",
        help="policy config JSON, as for `pulumi preview --policy-pack-config`",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _denied(error: Any, principal: str | None, what: str, host: str) -> AdoptError:
    """A read the workspace refused, as what the principal lacks; other failures as they are."""
    who = f"principal {principal}" if principal else "the principal of these credentials"
    if error.status == 403:
        return AdoptError(
            f"{who} cannot {what} in {host}: grant it CAN_VIEW on the endpoint (HTTP 403 "
            f"{error.error_code}: {error.message})",
            "permission_denied",
        )
    if error.status == 401:
        return AdoptError(
            f"{host} rejects the credentials ({error.operation}: HTTP 401 {error.error_code}); check "
            "the DATABRICKS_* variables or the profile",
            "live_read_failed",
        )
    return AdoptError(str(error), "live_read_failed")


def nothing_matching(match: str, principal: str | None, host: str, listed: Sequence[str]) -> AdoptError:
    """No endpoint to adopt: the listing shows only what the principal may view, so say both possible causes."""
    who = principal or "the principal of these credentials"
    message = (
        f"no endpoint in {host} whose name starts with `{match}` is visible to {who}: none exists, or {who} "
        "holds no permission on it (the list of endpoints shows only those a principal may view: grant it "
        "CAN_VIEW); nothing written"
    )
    if listed:
        shown = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
        message += f"; {who} sees {shown} (name them, or give --match)"
    return AdoptError(message, "nothing_matching")


def _read_live(client: Any, names: Sequence[str], match: str) -> tuple[str | None, list[tuple[Any, Any]]]:
    """(the deploying identity, each endpoint with its permissions), or AdoptError naming what the principal
    cannot read and what to grant."""
    from serving.workspace import ServingApiError, get_permissions, list_endpoints

    host = client.host
    try:
        deployer = client.current_principal()
    except ServingApiError as error:
        raise _denied(error, None, "read who it is (SCIM Me)", host) from None
    try:
        if not names:
            listed = sorted(str(item.get("name")) for item in list_endpoints(client))
            names = [name for name in listed if name.startswith(match)]
            if not names:
                raise nothing_matching(match, deployer, host, listed)
        read = []
        for name in names:
            try:
                endpoint = client.get_endpoint(name)
            except ServingApiError as error:
                raise _denied(error, deployer, f"view endpoint {name}", host) from None
            if endpoint is None:
                raise AdoptError(
                    f"endpoint {name} does not exist in {host} (as seen by "
                    f"{deployer or 'the principal of these credentials'}); nothing written"
                )
            try:
                permissions = get_permissions(client, endpoint["id"])
            except ServingApiError as error:
                raise _denied(error, deployer, f"read the permissions of endpoint {name}", host) from None
            read.append((endpoint, permissions))
    except ServingApiError as error:
        raise _denied(error, deployer, "list the serving endpoints", host) from None
    except OSError as error:
        raise LiveReadError(f"cannot reach the workspace {host}: {type(error).__name__}") from None
    return deployer, read


@dataclass
class Imported:
    """Everything one import read, wrote and found, ready to print as text or JSON."""

    stack: str
    host: str
    deployer: str | None
    declared_stack_file: str | None
    adopted: list[Adopted]
    rewrite: Rewrite | None = None
    stack_file: str | None = None
    import_file: str | None = None
    problems: list[str] = field(default_factory=list)
    """The config model's problems with the written file (each names its key path)."""
    verdicts: list[Verdict] | None = None
    """The policy pack's verdicts on the written file; None when nothing was written or the file is invalid."""

    @property
    def exit_code(self) -> int:
        if self.verdicts is not None and mandatory_violations(self.verdicts):
            return EXIT_MANDATORY_VIOLATION
        if self.problems or self.rewrite is None or any(item.key is None for item in self.adopted):
            return EXIT_NEEDS_EDIT
        return EXIT_OK

    def _changes(self, item: Adopted) -> list[Change]:
        return self.rewrite.changes.get(item.key, []) if self.rewrite and item.key else []

    def json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "host": self.host,
            "deployer": self.deployer,
            "declared_stack_file": self.declared_stack_file,
            "stack_file": self.stack_file,
            "import_file": self.import_file,
            "stack_changes": [change.json() for change in (self.rewrite.stack_changes if self.rewrite else [])],
            "endpoints": [
                {
                    "name": item.name,
                    "key": item.key,
                    "id": item.endpoint_id,
                    "new": bool(self.rewrite and item.key in self.rewrite.new),
                    "changes": [change.json() for change in self._changes(item)],
                    "findings": [
                        {"key": f.key, "message": f.message, "breaks_rules": f.breaks_rules} for f in item.findings
                    ],
                }
                for item in self.adopted
            ],
            "problems": self.problems,
            "policy": verdicts_json(self.verdicts) if self.verdicts is not None else None,
            "exit_code": self.exit_code,
        }

    def text(self) -> str:
        lines = [
            f"Adopted from {self.host} into stack {self.stack} (the import runs as "
            f"{self.deployer or 'an identity the workspace did not name'}):"
        ]
        for item in self.adopted:
            lines.append(f"  {item.name} ({item.endpoint_id}) {f'as {item.key}' if item.key else 'NOT adopted'}")
            if self.rewrite and item.key:
                if item.key in self.rewrite.new:
                    lines.append("    new entry (the stack file had none for this key)")
                elif not self._changes(item):
                    lines.append("    as declared: the stack file's entry is kept as it is")
                lines += [f"    ~ {change.line()}" for change in self._changes(item)]
            for finding in item.findings:
                mark = "!" if finding.breaks_rules else "-"
                lines.append(f"    {mark} {finding.key or 'endpoint'}: {finding.message}")
        if self.rewrite is None:
            lines.append("Nothing written: no endpoint could be adopted into this stack.")
            return "\n".join(lines)
        lines += [f"  ~ {change.line()}" for change in self.rewrite.stack_changes]
        source = self.declared_stack_file or "no stack file: a new one"
        lines.append(
            f"Wrote {self.stack_file} (from {source}; `~` lines: declared -> live, everything else kept "
            f"as written) and {self.import_file}."
        )
        if self.problems:
            lines.append("The stack file needs an edit before it is valid (the policy pack judges it then):")
            lines += [f"  {problem}" for problem in self.problems]
        if self.verdicts is not None:
            lines.append(render_verdicts(self.verdicts))
        lines += [
            'Next (README, "Adopting existing endpoints"): review the file, copy it to Pulumi.<stack>.yaml, then',
            f"  pulumi stack select {self.stack}",
            f"  pulumi import --file {self.import_file} --protect=false --generate-code=false --yes",
            "  pulumi preview --diff    # no replace of an endpoint; readiness resources to create",
            "  pulumi up",
        ]
        return "\n".join(lines)


def run(args: argparse.Namespace, project_dir: Path) -> Imported:
    """Read the workspace, write the stack file and import file, judge what was written."""
    path = stack_file(args.stack, project_dir)
    try:
        declared = read_stack_file(path) if path.is_file() else None
        pack_config = load_policy_config(args.policy_config) if args.policy_config else None
    except UnreadableStackFileError as error:
        raise AdoptError(str(error)) from None
    except PolicyConfigError as error:
        raise AdoptError(f"policy config: {error}") from None
    config = (declared.document if declared else {}).get("config") or {}
    defaults = config.get(DEFAULTS_KEY) or {}
    prefix = args.name_prefix if args.name_prefix is not None else str(defaults.get("name_prefix") or "")
    existing = config.get(ENDPOINTS_KEY) or {}
    client = live_client(str(config.get("databricks:host") or "") or None)
    match = args.match if args.match is not None else prefix
    deployer, read = _read_live(client, list(args.endpoints), match)
    adopted = []
    for endpoint, permissions in read:
        name = endpoint["name"]
        key = name[len(prefix) :] if name.startswith(prefix) else None
        adopted.append(
            adopt_endpoint(
                endpoint, permissions, prefix, defaults.get("tags") or {}, existing.get(key) if key else None, deployer
            )
        )
    result = Imported(args.stack, client.host, deployer, str(path) if declared else None, adopted)
    placed = [item for item in adopted if item.key is not None]
    if not placed:
        return result  # no file with no endpoint in it
    output = args.output_dir or Path("adopted") / args.stack
    output.mkdir(parents=True, exist_ok=True)
    result.rewrite = rewrite_stack_file(args.stack, client.host, declared, placed, prefix)
    written = output / f"Pulumi.{args.stack}.yaml"
    written.write_text(result.rewrite.text, encoding="utf-8")
    (output / "import.json").write_text(json.dumps(import_file(placed), indent=2) + "\n")
    result.stack_file, result.import_file = str(written), str(output / "import.json")
    result.problems, result.verdicts = judge(args.stack, written, project_dir, pack_config)
    return result


def main(argv: list[str] | None = None, *, project_dir: Path = PROJECT_DIR) -> int:
    args = _parser().parse_args(argv)
    try:
        import ruamel.yaml  # noqa: F401 - a tool's dependency (requirements-dev.txt), asked for before any read
    except ImportError:
        print(
            "import: needs ruamel.yaml to rewrite the stack file keeping its comments: "
            "make setup (venv-dev/bin/pip install -r requirements-dev.txt)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    try:
        result = run(args, project_dir)
    except (AdoptError, LiveReadError) as error:
        message = f"import: {error}"
        kind = error.kind if isinstance(error, AdoptError) else "live_read_failed"
        if args.json:
            print(
                json.dumps(
                    {"stack": args.stack, "error": {"kind": kind, "message": message}, "exit_code": EXIT_INVALID},
                    indent=2,
                )
            )
        else:
            print(message, file=sys.stderr)
        return EXIT_INVALID
    except Exception:  # noqa: BLE001 - a bug, never confused with a verdict
        traceback.print_exc()
        print("the import itself failed (exit status 3); this is a bug", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(result.json(), indent=2, default=str) if args.json else result.text())
    return result.exit_code
