"""The resource types of the `servingops` plugin: what each input means and what each call does.

Both resources are about an endpoint that belongs to its `databricks.ModelServing`: neither ever creates,
replaces or deletes the endpoint. Their Create/Update is work (prove it serves, move its traffic), run on
the plugin's thread pool by `provider.server`; everything here that `check`, `diff` and preview use is
pure (no request, no thread). `read` asks the workspace what serves now (refresh only).

Property names are the schema's (`provider.schema`), snake_case as the program sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from provider.wire import UNKNOWN, has_unknowns
from serving import payloads
from serving.preflight import (
    EntityToCheck,
    GrantToCheck,
    InferenceTableToCheck,
    Located,
    PreflightError,
    PreflightRequest,
)
from serving.preflight import check as check_preflight
from serving.traffic_shift import Rollout, RolloutPlan
from serving.verification import (
    DeclaredEntity,
    Expectation,
    Log,
    PollPolicy,
    Readiness,
    config_matches,
    routes_of,
    serving_summary,
    watch_deployment,
)
from serving.workspace import ServingApiError, ServingClient

MODEL_SERVING_TYPE = "databricks:index/modelServing:ModelServing"
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
INPUT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True)
class Failure:
    """One input `check` refuses: the property and why."""

    property: str
    reason: str


@dataclass
class Work:
    """What a Create/Update runs on the thread pool, and how it is stopped.

    `run` is blocking; `sleep` (given to it) raises `Cancelled` once the plugin is cancelled. `restore`,
    when there is one, is called by Cancel after `run` has stopped, and says where traffic stands.
    """

    run: Callable[[], dict[str, Any]]
    restore: Callable[[float], str] | None = None
    watch: Callable[[], None] | None = None
    """Work that goes on after the Create/Update has returned, holding none of the engine's step slots (the
    deployment watch); the failure it raises is reported on the row of the sibling `watch_reports_on`."""
    watch_reports_on: tuple[str, str] | None = None
    """(type token, resource name) of a resource with the same parent, whose row shows the watch's failure."""


class ResourceKind:
    """What the plugin knows of one resource type."""

    token: ClassVar[str]
    id_suffix: ClassVar[str]
    watched: ClassVar[tuple[str, ...]]
    """Inputs whose change means "do the work again"; deadlines are never among them."""
    computed: ClassVar[tuple[str, ...]]
    """Outputs the work produces: unknown in a preview."""
    needs_credentials: ClassVar[bool] = True
    """False: without workspace credentials the work still runs, given no client (preflight skips itself)."""
    works_in_preview: ClassVar[bool] = False
    """True: a preview's Create/Update runs `preview_work` (read-only) instead of returning unknowns."""

    def failures(self, news: Mapping[str, Any]) -> list[Failure]:
        raise NotImplementedError

    def work(
        self,
        props: Mapping[str, Any],
        client: ServingClient,
        policy: PollPolicy,
        log: Log,
        sleep: Callable[[float], None],
        recorded: Mapping[str, Any] | None = None,
    ) -> Work:
        """The work of a Create (`recorded` None) or an Update (`recorded`: the state's outputs)."""
        raise NotImplementedError

    def read(self, props: dict[str, Any], client: ServingClient) -> dict[str, Any] | None:
        """Outputs after a refresh, or None when the endpoint is gone."""
        raise NotImplementedError

    def delete(self, props: dict[str, Any], client: ServingClient) -> None:
        """What removing the resource changes in the workspace: by default nothing (the endpoint belongs
        to its ModelServing)."""

    deletes_in_workspace: ClassVar[bool] = False

    def preview_work(self, props: Mapping[str, Any], client: ServingClient | None, log: Log) -> Work | None:
        """The read-only work a preview does (only with `works_in_preview`); None: return unknowns."""
        return None

    # --- shared --------------------------------------------------------------------------------------

    def resource_id(self, props: Mapping[str, Any]) -> str:
        return f"{props['endpoint_name']}-{self.id_suffix}"

    def changed(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """The watched inputs that differ between the recorded outputs and the new inputs."""
        return [key for key in self.watched if _normal(olds.get(key)) != _normal(news.get(key))]

    def preview_outputs(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {**props, **{key: UNKNOWN for key in self.computed}}


def _normal(value: Any) -> Any:
    """A value as compared by `diff`: the engine's floats and the program's ints are the same number."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(item) for item in value]
    return value


def _whole(value: Any) -> Any:
    """A number the API takes as an integer, as an int: the engine hands every number over as a double,
    and `8.0` is not what a client of the serving API sends for a count or a percentage."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _version(value: Any) -> str:
    """A model version as the API spells it: `4`, never `4.0` (a version the engine made a double)."""
    return str(_whole(value))


def _payload_failures(
    news: Mapping[str, Any], text_key: str, legacy_key: str, where: str, bodies: bool
) -> list[Failure]:
    """What is wrong with a JSON-text input (or the list of them): not JSON text, or (`bodies`) a body not
    in exactly one Databricks input format."""
    text = news.get(text_key)
    if text is None or has_unknowns(text):
        return []
    texts = text if isinstance(text, list) else [text]
    failures = []
    for index, item in enumerate(texts):
        name = f"{where}[{index}]" if isinstance(text, list) else where
        if not isinstance(item, str):
            failures.append(Failure(name, "must be JSON text (serving.payloads.encode)"))
            continue
        try:
            body = payloads.decode(item, name)
        except payloads.PayloadError as error:
            failures.append(Failure(name, str(error)))
            continue
        if bodies and not (isinstance(body, dict) and sum(1 for key in INPUT_FORMATS if key in body) == 1):
            failures.append(Failure(name, f"needs exactly one of {', '.join(INPUT_FORMATS)}"))
    return failures


def _name_failure(name: Any) -> list[Failure]:
    if name == UNKNOWN:
        return []
    if isinstance(name, str) and name and set(name) <= NAME_CHARACTERS and len(name) <= 63:
        return []
    return [Failure("endpoint_name", f"{name!r} is not a serving endpoint name (1-63 letters, digits, - or _)")]


def _live_entities(config: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return list((config or {}).get("served_entities") or (config or {}).get("served_models") or [])


# --------------------------------------------------------------------------------------------------
# EndpointReadiness


def expectation_of(props: Mapping[str, Any]) -> Expectation:
    """The verification the readiness resource's inputs ask for."""
    warmup = props.get("warmup") or {}
    externals = list(props.get("external_models") or [])
    return Expectation(
        endpoint=props["endpoint_name"],
        served_entities=tuple(
            DeclaredEntity(
                name=entity["name"],
                entity_name=entity["entity_name"],
                entity_version=_version(entity["entity_version"]),
                scale_to_zero=bool(entity.get("scale_to_zero", False)),
            )
            for entity in props["served_entities"]
        )
        # An external model has no version: it is served under its provider's model name (serving.model).
        + tuple(DeclaredEntity(name=e["name"], entity_name=e["model"], entity_version="") for e in externals),
        probes={external["name"]: external["task"] for external in externals},
        traffic={name: int(share) for name, share in (props.get("traffic") or {}).items()},
        timeout_seconds=float(props["timeout_seconds"]),
        # The text as the stack file wrote it; a record of an older plugin holds a structure (all doubles).
        input_example=payloads.recorded(warmup, "input_example_json", "input_example"),
        warmup_timeout_seconds=float(warmup.get("timeout_seconds", 900)),
        route_optimized=bool(props.get("route_optimized", False)),
    )


class ReadinessKind(ResourceKind):
    """`servingops:index:EndpointReadiness`: the endpoint serves as declared, every served entity warm."""

    token = "servingops:index:EndpointReadiness"
    id_suffix = "readiness"
    watched = (
        "endpoint_name",
        "endpoint_id",
        "served_entities",
        "traffic",
        "warmup",
        "route_optimized",
        "external_models",
    )
    computed = (
        "verified_versions",
        "verified_traffic",
        "warmed",
        "route",
        "waited_seconds",
        "polls",
        "config_version",
        "fingerprint",
    )

    def failures(self, news: Mapping[str, Any]) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name"))
        entities, traffic = news.get("served_entities"), news.get("traffic")
        if not has_unknowns(entities):
            if not isinstance(entities, list) or not entities:
                failures.append(Failure("served_entities", "at least one served entity is required"))
            elif not has_unknowns(traffic):
                names = {entity.get("name") for entity in entities}
                if not isinstance(traffic, dict) or sum(int(v) for v in traffic.values()) != 100:
                    failures.append(Failure("traffic", "routes must sum to 100"))
                elif set(traffic) != names:
                    failures.append(
                        Failure("traffic", f"routes {sorted(traffic)} must cover the served entities {sorted(names)}")
                    )
        timeout = news.get("timeout_seconds")
        if timeout != UNKNOWN and not (isinstance(timeout, (int, float)) and timeout > 0):
            failures.append(Failure("timeout_seconds", "must be a positive number of seconds"))
        warmup = news.get("warmup") or {}
        example = warmup.get("input_example")  # the shape of older programs: still read
        if isinstance(example, dict) and sum(1 for key in INPUT_FORMATS if key in example) != 1:
            failures.append(Failure("warmup.input_example", f"needs exactly one of {', '.join(INPUT_FORMATS)}"))
        if isinstance(warmup, dict):
            failures += _payload_failures(
                warmup, "input_example_json", "input_example", "warmup.input_example_json", bodies=True
            )
        return failures

    def changed(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """As the default, but the warmup body compared as `serving.payloads.same_payload` does (a record of
        an older plugin, a structure of doubles, is the same body as the text of equal values)."""
        changes = [key for key in super().changed(olds, news) if key != "warmup"]
        old, new = olds.get("warmup") or {}, news.get("warmup") or {}
        if not isinstance(old, dict) or not isinstance(new, dict) or has_unknowns(new):
            return changes + (["warmup"] if _normal(old) != _normal(new) else [])
        if not payloads.same_payload(old, new, "input_example_json", "input_example") or _normal(
            old.get("timeout_seconds")
        ) != _normal(new.get("timeout_seconds")):
            changes.append("warmup")
        return [key for key in self.watched if key in changes]

    def work(self, props, client, policy, log, sleep, recorded=None) -> Work:
        readiness = Readiness(client, expectation_of(props), policy, log=log, sleep=sleep)

        def run() -> dict[str, Any]:
            verified = readiness.run().outputs()
            verified.pop("endpoint_id")  # the input, verified
            return {**props, **verified}

        return Work(run)

    def read(self, props, client):
        endpoint = client.get_endpoint(props["endpoint_name"]) if props.get("endpoint_name") else None
        if endpoint is None:
            return None
        active = endpoint.get("config") or {}
        state = endpoint.get("state") or {}
        live_entities = [
            {
                "name": entity.get("name"),
                "entity_name": entity.get("entity_name"),
                "entity_version": str(entity.get("entity_version")),
                "scale_to_zero": bool(entity.get("scale_to_zero_enabled", False)),
            }
            for entity in _live_entities(active)
        ]
        outs = {
            **props,
            "live_state": {"ready": state.get("ready"), "config_update": state.get("config_update")},
            "live_served_versions": {entity["name"]: entity["entity_version"] for entity in live_entities},
            "live_traffic": routes_of(active),
        }
        drifted = not config_matches(active, expectation_of(props)) or endpoint.get("id") != props.get("endpoint_id")
        if "served_entities" in props and drifted:
            # What really serves goes into the outputs, which the next Diff compares with the declared
            # inputs: the next `pulumi up` sees a change and verifies again.
            outs.update(served_entities=live_entities, traffic=routes_of(active), endpoint_id=endpoint.get("id"))
        return outs


# --------------------------------------------------------------------------------------------------
# EndpointRollout


def plan_of(props: Mapping[str, Any]) -> RolloutPlan:
    """The rollout the rollout resource's inputs ask for."""
    health = props.get("health") or {}
    expected = payloads.recorded(props, "expected_predictions_json", "expected_predictions")
    return RolloutPlan(
        endpoint=props["endpoint_name"],
        served_entities=tuple(_served_entity_body(entity) for entity in props["served_entities"]),
        target={name: int(share) for name, share in props["target"].items()},
        stable=props["stable"],
        candidate=props["candidate"],
        steps=tuple(int(step) for step in props["steps"]),
        bake_seconds=float(props["bake_seconds"]),
        examples=tuple(payloads.recorded(props, "examples_json", "examples") or ()),
        tolerance=float(props.get("tolerance", 1e-6)),
        expected_predictions=tuple(expected) if expected is not None else None,
        max_error_rate=float(health.get("max_error_rate", 0.01)),
        max_p95_latency_ms=float(health.get("max_p95_latency_ms", 1000)),
        min_requests=int(health.get("min_requests", 20)),
        probe_interval_seconds=float(health.get("probe_interval_seconds", 1.0)),
        update_timeout_seconds=float(props.get("update_timeout_seconds", 2100)),
        route_optimized=bool(props.get("route_optimized", False)),
    )


INTEGER_ENTITY_FIELDS = ("min_provisioned_concurrency", "max_provisioned_concurrency")


def _served_entity_body(entity: Mapping[str, Any]) -> dict[str, Any]:
    """A declared served entity as a config update sends it: counts as integers, the version as text."""
    body = {key: _whole(value) if key in INTEGER_ENTITY_FIELDS else value for key, value in entity.items()}
    if "entity_version" in body:
        body["entity_version"] = _version(body["entity_version"])
    return body


def _entity_fields(entity: Mapping[str, Any]) -> dict[str, Any]:
    """A served entity reduced to what the rollout declares (live bodies carry more)."""
    keys = (
        "name",
        "entity_name",
        "entity_version",
        "workload_size",
        "workload_type",
        "scale_to_zero_enabled",
        "min_provisioned_concurrency",
        "max_provisioned_concurrency",
        "environment_vars",
    )
    return _served_entity_body({key: entity.get(key) for key in keys if entity.get(key) is not None})


class RolloutKind(ResourceKind):
    """`servingops:index:EndpointRollout`: the candidate's traffic walks to its declared share, gated."""

    token = "servingops:index:EndpointRollout"
    id_suffix = "rollout"
    watched = (
        "endpoint_name",
        "endpoint_id",
        "served_entities",
        "target",
        "stable",
        "candidate",
        "steps",
        "bake_seconds",
        "examples_json",
        "tolerance",
        "expected_predictions_json",
        "health",
        "route_optimized",
    )
    json_inputs = (("examples_json", "examples"), ("expected_predictions_json", "expected_predictions"))
    """(JSON-text input, the structure an older plugin recorded instead)."""
    computed = ("report", "last_good_split")

    def failures(self, news: Mapping[str, Any]) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name"))
        target, candidate, stable = news.get("target"), news.get("candidate"), news.get("stable")
        if not has_unknowns(target) and isinstance(target, dict):
            if candidate not in target or stable not in target:
                failures.append(Failure("target", f"routes {sorted(target)} must name {stable} and {candidate}"))
            elif sum(int(share) for share in target.values()) != 100:
                failures.append(Failure("target", "routes must sum to 100"))
        if not news.get("examples_json") and not news.get("examples"):
            failures.append(Failure("examples_json", "the gates need at least one request to send"))
        failures += _payload_failures(news, "examples_json", "examples", "examples_json", bodies=True)
        failures += _payload_failures(
            news, "expected_predictions_json", "expected_predictions", "expected_predictions_json", bodies=False
        )
        return failures

    def changed(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """As the default, but the bodies compared as `serving.payloads.same_payload` does: a record of an
        older plugin (`examples`, a structure of doubles) is the same as the texts of equal values."""
        texts = {text for text, _ in self.json_inputs}
        changes = [key for key in super().changed(olds, news) if key not in texts]
        for text, legacy in self.json_inputs:
            if has_unknowns(news.get(text)):
                changes.append(text)
            elif not payloads.same_payload(olds, news, text, legacy):
                changes.append(text)
        return [key for key in self.watched if key in changes]

    def work(self, props, client, policy, log, sleep, recorded=None) -> Work:
        # The split the state records as judged good; a live split that differs (an update that landed after
        # an interrupted run gave up waiting for it) is judged before the run reports success.
        verified = (recorded or {}).get("last_good_split")
        verified_split = {name: int(share) for name, share in verified.items()} if isinstance(verified, dict) else None
        rollout = Rollout(client, plan_of(props), policy, log=log, sleep=sleep, verified_split=verified_split)

        def run() -> dict[str, Any]:
            report = rollout.run()
            return {**props, "report": report.outputs(), "last_good_split": report.last_good_split}

        return Work(run, restore=rollout.restore)

    def read(self, props, client):
        endpoint = client.get_endpoint(props["endpoint_name"]) if props.get("endpoint_name") else None
        if endpoint is None:
            return None
        active = endpoint.get("config") or {}
        live_split = routes_of(active)
        outs = {**props, "live_split": live_split, "live_serving": serving_summary(active)}
        declared = [_entity_fields(entity) for entity in props.get("served_entities") or []]
        live = [_entity_fields(entity) for entity in _live_entities(active)]
        target = {name: int(share) for name, share in (props.get("target") or {}).items()}
        if live_split != target or sorted(live, key=str) != sorted(declared, key=str):
            # Drift (traffic or versions changed outside Pulumi): recorded in the outputs, so the next
            # `pulumi up` runs the rollout again, from the live split.
            outs.update(target=live_split, served_entities=live)
        return outs


# --------------------------------------------------------------------------------------------------
# EndpointNotifications


def _notifications_body(props: Mapping[str, Any]) -> dict[str, list[str]]:
    return {key: list(props.get(key) or []) for key in ("on_update_success", "on_update_failure") if props.get(key)}


class NotificationsKind(ResourceKind):
    """`servingops:index:EndpointNotifications`: e-mail notifications kept as declared on an existing endpoint."""

    token = "servingops:index:EndpointNotifications"
    id_suffix = "notifications"
    watched = ("endpoint_name", "on_update_success", "on_update_failure")
    computed = ()

    def failures(self, news: Mapping[str, Any]) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name"))
        for key in ("on_update_success", "on_update_failure"):
            value = news.get(key)
            if value not in (None, UNKNOWN) and not (
                isinstance(value, list) and all(isinstance(address, str) and "@" in address for address in value)
            ):
                failures.append(Failure(key, "must be a list of e-mail addresses"))
        return failures

    def work(self, props, client, policy, log, sleep, recorded=None) -> Work:
        def run() -> dict[str, Any]:
            body = _notifications_body(props)
            client.update_notifications(props["endpoint_name"], body)
            log(f"{props['endpoint_name']}: e-mail notifications set ({', '.join(body) or 'none'})")
            return dict(props)

        return Work(run)

    deletes_in_workspace = True

    def delete(self, props, client) -> None:
        """The `notifications` block was removed: the endpoint sends no e-mail any more (an endpoint that is
        gone already has none)."""
        try:
            client.update_notifications(props["endpoint_name"], {})
        except ServingApiError as error:
            if error.status != 404:
                raise

    def read(self, props, client):
        endpoint = client.get_endpoint(props["endpoint_name"]) if props.get("endpoint_name") else None
        if endpoint is None:
            return None
        live = endpoint.get("email_notifications") or {}
        outs = {**props, "live_email_notifications": live}
        if {key: sorted(value) for key, value in live.items() if value} != {
            key: sorted(value) for key, value in _notifications_body(props).items()
        }:
            # Changed by hand: the outputs say what is live, so the next `up` applies the declared ones again.
            outs.update(
                on_update_success=list(live.get("on_update_success") or []),
                on_update_failure=list(live.get("on_update_failure") or []),
            )
        return outs


# --------------------------------------------------------------------------------------------------
# EndpointPreflight

PREFLIGHT_SKIPPED = "skipped: no workspace credentials"


def preflight_request_of(props: Mapping[str, Any]) -> PreflightRequest:
    """The checks the preflight resource's inputs ask for."""
    principal, table = props.get("query_service_principal"), props.get("inference_table")
    return PreflightRequest(
        endpoint=props["endpoint_name"],
        served_entities=tuple(
            EntityToCheck(
                name=entity["name"],
                entity_name=entity["entity_name"],
                entity_version=_version(entity["entity_version"]),
                key_path=entity["key_path"],
            )
            for entity in props.get("served_entities") or []
        ),
        query_service_principal=Located(principal["value"], principal["key_path"]) if principal else None,
        manager_groups=tuple(Located(g["value"], g["key_path"]) for g in props.get("manager_groups") or []),
        secret_references=tuple(Located(r["value"], r["key_path"]) for r in props.get("secret_references") or []),
        inference_table=InferenceTableToCheck(table["catalog"], table["schema"], table["key_path"]) if table else None,
        grants=tuple(GrantToCheck(g["kind"], g["value"], g["key_path"]) for g in props.get("grants") or []),
    )


class PreflightKind(ResourceKind):
    """`servingops:index:Preflight`: what every endpoint's deployment needs exists in the workspace.

    One per stack (`endpoints`: endpoint key -> what to check), declared before any endpoint, each of which
    depends on it: its Create/Update runs in the preview as well as in the update (read-only GETs,
    serving.preflight), so a missing version fails `pulumi preview` and fails `pulumi up` before anything
    changes, with every finding of every endpoint at once. One resource, not one per endpoint: a stack of
    hundreds of endpoints registers hundreds fewer resources (bench/README.md).
    """

    token = "servingops:index:Preflight"
    id_suffix = "preflight"
    watched = ("endpoints",)
    computed = ("outcome",)
    fields = (
        "endpoint_name",
        "served_entities",
        "query_service_principal",
        "manager_groups",
        "secret_references",
        "inference_table",
        "grants",
    )
    needs_credentials = False
    works_in_preview = True

    def resource_id(self, props: Mapping[str, Any]) -> str:
        return "preflight"

    @staticmethod
    def _endpoints(props: Mapping[str, Any]) -> dict[str, Any]:
        endpoints = props.get("endpoints")
        return endpoints if isinstance(endpoints, dict) else {}

    def changed(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """Per endpoint and field (`endpoints.risk-classifier.served_entities`), for a readable preview."""
        old, new = self._endpoints(olds), self._endpoints(news)
        return [
            f"endpoints.{key}.{field}"
            for key in sorted(set(old) | set(new))
            for field in self.fields
            if _normal((old.get(key) or {}).get(field)) != _normal((new.get(key) or {}).get(field))
        ]

    def failures(self, news: Mapping[str, Any]) -> list[Failure]:
        endpoints = news.get("endpoints")
        if endpoints == UNKNOWN:
            return []
        if not isinstance(endpoints, dict):
            return [Failure("endpoints", "must be a map of endpoint key -> what to check")]
        failures = []
        for key, checks in endpoints.items():
            failures += [
                Failure(f"endpoints.{key}.{f.property}", f.reason) for f in _name_failure(checks.get("endpoint_name"))
            ]
            for field in ("served_entities", "manager_groups", "secret_references", "grants"):
                value = checks.get(field)
                if value in (None, UNKNOWN) or has_unknowns(value):
                    continue
                if not isinstance(value, list) or not all(
                    isinstance(item, dict) and item.get("key_path") for item in value
                ):
                    failures.append(
                        Failure(
                            f"endpoints.{key}.{field}",
                            "must be a list of objects, each with its stack key path (key_path)",
                        )
                    )
        return failures

    def _check(self, props: Mapping[str, Any], client: ServingClient | None, log: Log) -> dict[str, Any]:
        if client is None:
            return {**props, "outcome": PREFLIGHT_SKIPPED}
        errors = []
        for checks in self._endpoints(props).values():
            findings = check_preflight(client, preflight_request_of(checks))
            if findings:
                errors.append(PreflightError(checks["endpoint_name"], findings))
        if errors:
            raise PreflightError.of_stack(errors)
        log(
            f"preflight passed for {len(self._endpoints(props))} endpoint(s): model versions, principals, secrets "
            "and tables exist"
        )
        return {**props, "outcome": "passed"}

    def work(self, props, client, policy, log, sleep, recorded=None) -> Work:
        return Work(lambda: self._check(props, client, log))

    def preview_work(self, props, client, log) -> Work | None:
        if has_unknowns(dict(props)):
            return None  # something is not known before the update: checked then
        return Work(lambda: self._check(props, client, log))

    def read(self, props, client):
        return dict(props)  # nothing live to record: the next change checks again


# --------------------------------------------------------------------------------------------------
# EndpointDeployment


class DeploymentKind(ResourceKind):
    """`servingops:index:EndpointDeployment`: why a deployment by pulumi-databricks failed, read while it runs.

    That provider reports a failure only as `failed to reach NOT_UPDATING, got UPDATE_FAILED`, and deletes an
    endpoint whose creation failed. This resource, declared beside the ModelServing with the same served
    entities and routes, returns at once and leaves a watch behind in the plugin (an engine step slot held
    while the ModelServing waits for one could delay it past any grace); the watch follows the endpoint
    until it serves the declared entities and, when the deployment fails, puts the served entity, its message
    and the build log's tail on the ModelServing's own row."""

    token = "servingops:index:EndpointDeployment"
    id_suffix = "deployment"
    watched = ("endpoint_name", "served_entities", "traffic")
    computed = ("outcome",)

    def failures(self, news: Mapping[str, Any]) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name"))
        if not has_unknowns(news.get("served_entities")) and not news.get("served_entities"):
            failures.append(Failure("served_entities", "at least one served entity is required"))
        return failures

    def work(self, props, client, policy, log, sleep, recorded=None) -> Work:
        expectation = expectation_of({**props, "warmup": None})
        endpoint_resource = props.get("endpoint_resource") or ""

        def watch() -> None:
            outcome = watch_deployment(
                client, expectation, sleep=sleep, grace=expectation.timeout_seconds, not_seen_policy=policy
            )
            log(f"{expectation.endpoint}: deployment {outcome}")

        return Work(
            lambda: {**props, "outcome": "watched while pulumi-databricks deploys it"},
            watch=watch,
            watch_reports_on=(MODEL_SERVING_TYPE, endpoint_resource) if endpoint_resource else None,
        )

    def read(self, props, client):
        return dict(props)  # nothing live to record: the endpoint's own resources read it


KINDS: dict[str, ResourceKind] = {
    kind.token: kind
    for kind in (ReadinessKind(), RolloutKind(), NotificationsKind(), PreflightKind(), DeploymentKind())
}
