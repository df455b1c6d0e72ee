"""The resource types of the `servingops` plugin: what each input means and what each call does.

Both resources are about an endpoint that belongs to its `databricks.ModelServing`: neither ever creates,
replaces or deletes the endpoint. Their Create/Update is work (prove it serves, move its traffic), run on
the plugin's thread pool by `provider.handlers`; everything here that `check`, `diff` and preview use is
pure (no request, no thread). `read` asks the workspace what serves now (refresh only), typed
(`serving.model.ServingEndpoint`).

Property names are the schema's (`provider.schema`), snake_case as the program sends them; what each means
is read once, typed, by `provider.requests`. No default is restated here: a missing input is a Check failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from provider.requests import (
    DECLARED_ENTITY_FIELDS,
    DeploymentInputs,
    Failure,
    HealthInputs,
    InputError,
    NotificationsInputs,
    PreflightEndpointInputs,
    PropertyMap,
    ReadinessInputs,
    RecordedServing,
    RolloutInputs,
    declared_entity_fields,
    missing_inputs,
    preflight_endpoints,
    recorded_endpoint_name,
    recorded_last_good_split,
)
from provider.wire import UNKNOWN, has_unknowns
from serving import payloads
from serving.model import ServedEntity, ServingEndpoint
from serving.preflight import PreflightError, PreflightRequest
from serving.preflight import check as check_preflight
from serving.traffic_shift import Rollout, RolloutPlan
from serving.verification import Expectation, Log, PollPolicy, Readiness, config_matches, watch_deployment
from serving.workspace import ServingApiError, ServingClient

MODEL_SERVING_TYPE = "databricks:index/modelServing:ModelServing"
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
INPUT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


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
    required: ClassVar[tuple[str, ...]]
    """Inputs the program always sends (provider.requests): Check names each one missing."""
    watched: ClassVar[tuple[str, ...]]
    """Inputs whose change means "do the work again"; deadlines are never among them."""
    computed: ClassVar[tuple[str, ...]]
    """Outputs the work produces: unknown in a preview."""
    needs_credentials: ClassVar[bool] = True
    """False: without workspace credentials the work still runs, given no client (preflight skips itself)."""
    works_in_preview: ClassVar[bool] = False
    """True: a preview's Create/Update runs `preview_work` (read-only) instead of returning unknowns."""
    deletes_in_workspace: ClassVar[bool] = False

    def failures(self, news: PropertyMap) -> list[Failure]:
        """Every input Check refuses: each required one missing, then each invalid one (not again for a
        property already said to be missing)."""
        missing = missing_inputs(news, self.required)
        said = {failure.property for failure in missing}
        return missing + [failure for failure in self.invalid(news) if failure.property not in said]

    def invalid(self, news: PropertyMap) -> list[Failure]:
        """The inputs given that are wrong (a nested required one missing among them)."""
        raise NotImplementedError

    def work(
        self,
        props: PropertyMap,
        client: ServingClient | None,
        policy: PollPolicy,
        log: Log,
        sleep: Callable[[float], None],
        recorded: PropertyMap | None = None,
    ) -> Work:
        """The work of a Create (`recorded` None) or an Update (`recorded`: the state's outputs). `client` is
        None only for a kind that does without credentials (`needs_credentials` False)."""
        raise NotImplementedError

    def read(self, props: PropertyMap, client: ServingClient | None) -> dict[str, Any] | None:
        """Outputs after a refresh (from the state's outputs `props`), or None when the endpoint is gone."""
        raise NotImplementedError

    def delete(self, props: PropertyMap, client: ServingClient) -> None:
        """What removing the resource changes in the workspace: by default nothing (the endpoint belongs
        to its ModelServing)."""

    def preview_work(self, props: PropertyMap, client: ServingClient | None, log: Log) -> Work | None:
        """The read-only work a preview does (only with `works_in_preview`); None: return unknowns."""
        return None

    # --- shared --------------------------------------------------------------------------------------

    def resource_id(self, props: PropertyMap) -> str:
        return f"{props['endpoint_name']}-{self.id_suffix}"

    def changed(self, olds: PropertyMap, news: PropertyMap) -> list[str]:
        """The watched inputs that differ between the recorded outputs and the new inputs."""
        return [key for key in self.watched if _normal(olds.get(key)) != _normal(news.get(key))]

    def preview_outputs(self, props: PropertyMap) -> dict[str, Any]:
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


def _workspace(client: ServingClient | None) -> ServingClient:
    """The client of a kind that `needs_credentials`: the servicer gives it one or fails before."""
    if client is None:
        raise InputError("servingops: this resource needs workspace credentials; none were found")
    return client


def _endpoint(props: PropertyMap, client: ServingClient | None) -> ServingEndpoint | None:
    """The live endpoint a recorded resource is about, typed; None when it (or its name) is gone."""
    name = recorded_endpoint_name(props)
    return _workspace(client).get_serving_endpoint(name) if name else None


def _entity_failures(news: PropertyMap) -> list[Failure]:
    """Each declared served entity's missing field, by index."""
    entities = news.get("served_entities")
    if not isinstance(entities, list):
        return []
    return [
        failure
        for index, entity in enumerate(entities)
        if isinstance(entity, Mapping)
        for failure in missing_inputs(entity, DECLARED_ENTITY_FIELDS, f"served_entities[{index}].")
    ]


def _payload_failures(news: PropertyMap, text_key: str, where: str, bodies: bool) -> list[Failure]:
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


# --------------------------------------------------------------------------------------------------
# EndpointReadiness


def _all_entities(news: PropertyMap) -> Any:
    """The registered models' served entities and the external models (sent only when there are some), as Check
    sees them: one list, or the served entities as sent (unknown, or not a list) for the failure to name."""
    entities, externals = news.get("served_entities"), news.get("external_models") or []
    if not isinstance(entities, list) or not isinstance(externals, list):
        return entities
    return entities + externals


def expectation_of(props: PropertyMap) -> Expectation:
    """The verification the readiness resource's inputs ask for."""
    return ReadinessInputs.of(props).expectation()


def _declared_shape(entity: ServedEntity) -> dict[str, Any]:
    """A live served entity in the shape the readiness resource declares one."""
    return {
        "name": entity.name,
        "entity_name": entity.entity_name,
        "entity_version": str(entity.entity_version),
        "scale_to_zero": entity.scale_to_zero_enabled,
    }


class ReadinessKind(ResourceKind):
    """`servingops:index:EndpointReadiness`: the endpoint serves as declared, every served entity warm."""

    token = "servingops:index:EndpointReadiness"
    id_suffix = "readiness"
    required = ReadinessInputs.REQUIRED
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

    def invalid(self, news: PropertyMap) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name")) + _entity_failures(news)
        entities, traffic = _all_entities(news), news.get("traffic")
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
        if timeout not in (None, UNKNOWN) and not (isinstance(timeout, (int, float)) and timeout > 0):
            failures.append(Failure("timeout_seconds", "must be a positive number of seconds"))
        warmup = news.get("warmup")
        if isinstance(warmup, dict):
            failures += missing_inputs(warmup, ReadinessInputs.WARMUP_REQUIRED, "warmup.")
            example = warmup.get("input_example")  # the shape of older programs: still read
            if isinstance(example, dict) and sum(1 for key in INPUT_FORMATS if key in example) != 1:
                failures.append(Failure("warmup.input_example", f"needs exactly one of {', '.join(INPUT_FORMATS)}"))
            failures += _payload_failures(warmup, "input_example_json", "warmup.input_example_json", bodies=True)
        return failures

    def changed(self, olds: PropertyMap, news: PropertyMap) -> list[str]:
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

    def work(
        self,
        props: PropertyMap,
        client: ServingClient | None,
        policy: PollPolicy,
        log: Log,
        sleep: Callable[[float], None],
        recorded: PropertyMap | None = None,
    ) -> Work:
        readiness = Readiness(_workspace(client), expectation_of(props), policy, log=log, sleep=sleep)

        def run() -> dict[str, Any]:
            verified = readiness.run().outputs()
            verified.pop("endpoint_id")  # the input, verified
            return {**props, **verified}

        return Work(run)

    def read(self, props: PropertyMap, client: ServingClient | None) -> dict[str, Any] | None:
        endpoint = _endpoint(props, client)
        if endpoint is None:
            return None
        served = endpoint.config.served_entities if endpoint.config else ()
        live_entities = [_declared_shape(entity) for entity in served]
        live_traffic = endpoint.traffic
        outs = {
            **props,
            "live_state": {"ready": endpoint.state.ready.value, "config_update": endpoint.state.config_update.value},
            "live_served_versions": {entity["name"]: entity["entity_version"] for entity in live_entities},
            "live_traffic": live_traffic,
        }
        recorded = RecordedServing.of(props)
        drifted = not config_matches(endpoint.config, recorded.expectation()) or endpoint.id != recorded.endpoint_id
        if "served_entities" in props and drifted:
            # What really serves goes into the outputs, which the next Diff compares with the declared
            # inputs: the next `pulumi up` sees a change and verifies again.
            outs.update(served_entities=live_entities, traffic=live_traffic, endpoint_id=endpoint.id)
        return outs


# --------------------------------------------------------------------------------------------------
# EndpointRollout


def plan_of(props: PropertyMap) -> RolloutPlan:
    """The rollout the rollout resource's inputs ask for."""
    return RolloutInputs.of(props).plan


def _live_rollout_fields(entity: ServedEntity) -> dict[str, Any]:
    """A live served entity reduced to what the rollout declares, in the same shape."""
    return declared_entity_fields(
        {
            "name": entity.name,
            "entity_name": entity.entity_name,
            "entity_version": entity.entity_version,
            "workload_size": entity.workload_size,
            "workload_type": entity.workload_type,
            "scale_to_zero_enabled": entity.scale_to_zero_enabled,
            "min_provisioned_concurrency": entity.min_provisioned_concurrency,
            "max_provisioned_concurrency": entity.max_provisioned_concurrency,
            "environment_vars": dict(entity.environment_vars) or None,
        }
    )


class RolloutKind(ResourceKind):
    """`servingops:index:EndpointRollout`: the candidate's traffic walks to its declared share, gated."""

    token = "servingops:index:EndpointRollout"
    id_suffix = "rollout"
    required = RolloutInputs.REQUIRED
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

    def invalid(self, news: PropertyMap) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name"))
        target, candidate, stable = news.get("target"), news.get("candidate"), news.get("stable")
        # Without a stable or candidate, their own missing input is the failure, not the target's.
        if not has_unknowns(target) and isinstance(target, dict) and None not in (stable, candidate):
            if candidate not in target or stable not in target:
                failures.append(Failure("target", f"routes {sorted(target)} must name {stable} and {candidate}"))
            elif sum(int(share) for share in target.values()) != 100:
                failures.append(Failure("target", "routes must sum to 100"))
        health = news.get("health")
        if isinstance(health, dict):
            failures += missing_inputs(health, HealthInputs.REQUIRED, "health.")
        if not news.get("examples_json") and not news.get("examples"):
            failures.append(Failure("examples_json", "the gates need at least one request to send"))
        failures += _payload_failures(news, "examples_json", "examples_json", bodies=True)
        failures += _payload_failures(news, "expected_predictions_json", "expected_predictions_json", bodies=False)
        return failures

    def changed(self, olds: PropertyMap, news: PropertyMap) -> list[str]:
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

    def work(
        self,
        props: PropertyMap,
        client: ServingClient | None,
        policy: PollPolicy,
        log: Log,
        sleep: Callable[[float], None],
        recorded: PropertyMap | None = None,
    ) -> Work:
        # The split the state records as judged good; a live split that differs (an update that landed after
        # an interrupted run gave up waiting for it) is judged before the run reports success.
        rollout = Rollout(
            _workspace(client),
            plan_of(props),
            policy,
            log=log,
            sleep=sleep,
            verified_split=recorded_last_good_split(recorded),
        )

        def run() -> dict[str, Any]:
            report = rollout.run()
            return {**props, "report": report.outputs(), "last_good_split": report.last_good_split}

        return Work(run, restore=rollout.restore)

    def read(self, props: PropertyMap, client: ServingClient | None) -> dict[str, Any] | None:
        endpoint = _endpoint(props, client)
        if endpoint is None:
            return None
        live_split = endpoint.traffic
        outs = {**props, "live_split": live_split, "live_serving": endpoint.serving()}
        declared = [declared_entity_fields(entity) for entity in props.get("served_entities") or []]
        served = endpoint.config.served_entities if endpoint.config else ()
        live = [_live_rollout_fields(entity) for entity in served]
        target = {name: int(share) for name, share in (props.get("target") or {}).items()}
        if live_split != target or sorted(live, key=str) != sorted(declared, key=str):
            # Drift (traffic or versions changed outside Pulumi): recorded in the outputs, so the next
            # `pulumi up` runs the rollout again, from the live split.
            outs.update(target=live_split, served_entities=live)
        return outs


# --------------------------------------------------------------------------------------------------
# EndpointNotifications


class NotificationsKind(ResourceKind):
    """`servingops:index:EndpointNotifications`: e-mail notifications kept as declared on an existing endpoint."""

    token = "servingops:index:EndpointNotifications"
    id_suffix = "notifications"
    required = NotificationsInputs.REQUIRED
    watched = ("endpoint_name", "on_update_success", "on_update_failure")
    computed = ()
    deletes_in_workspace = True

    def invalid(self, news: PropertyMap) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name"))
        for key in ("on_update_success", "on_update_failure"):
            value = news.get(key)
            if value not in (None, UNKNOWN) and not (
                isinstance(value, list) and all(isinstance(address, str) and "@" in address for address in value)
            ):
                failures.append(Failure(key, "must be a list of e-mail addresses"))
        return failures

    def work(
        self,
        props: PropertyMap,
        client: ServingClient | None,
        policy: PollPolicy,
        log: Log,
        sleep: Callable[[float], None],
        recorded: PropertyMap | None = None,
    ) -> Work:
        inputs, workspace = NotificationsInputs.of(props), _workspace(client)

        def run() -> dict[str, Any]:
            body = inputs.body()
            workspace.update_notifications(inputs.endpoint_name, body)
            log(f"{inputs.endpoint_name}: e-mail notifications set ({', '.join(body) or 'none'})")
            return dict(props)

        return Work(run)

    def delete(self, props: PropertyMap, client: ServingClient) -> None:
        """The `notifications` block was removed: the endpoint sends no e-mail any more (an endpoint that is
        gone already has none)."""
        try:
            client.update_notifications(props["endpoint_name"], {})
        except ServingApiError as error:
            if error.status != 404:
                raise

    def read(self, props: PropertyMap, client: ServingClient | None) -> dict[str, Any] | None:
        endpoint = _endpoint(props, client)
        if endpoint is None:
            return None
        live = dict(endpoint.email_notifications)
        outs = {**props, "live_email_notifications": live}
        declared = {key: list(props.get(key) or []) for key in ("on_update_success", "on_update_failure")}
        if {key: sorted(value) for key, value in live.items() if value} != {
            key: sorted(value) for key, value in declared.items() if value
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


def preflight_request_of(props: PropertyMap) -> PreflightRequest:
    """The checks one endpoint's part of the preflight resource's inputs asks for."""
    return PreflightEndpointInputs.of(props).request


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
    required = ("endpoints",)
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

    def resource_id(self, props: PropertyMap) -> str:
        return "preflight"

    def changed(self, olds: PropertyMap, news: PropertyMap) -> list[str]:
        """Per endpoint and field (`endpoints.risk-classifier.served_entities`), for a readable preview."""
        old, new = preflight_endpoints(olds), preflight_endpoints(news)
        return [
            f"endpoints.{key}.{field}"
            for key in sorted(set(old) | set(new))
            for field in self.fields
            if _normal((old.get(key) or {}).get(field)) != _normal((new.get(key) or {}).get(field))
        ]

    def invalid(self, news: PropertyMap) -> list[Failure]:
        endpoints = news.get("endpoints")
        if endpoints in (None, UNKNOWN):
            return []
        if not isinstance(endpoints, dict):
            return [Failure("endpoints", "must be a map of endpoint key -> what to check")]
        failures = []
        for key, checks in endpoints.items():
            failures += missing_inputs(checks, PreflightEndpointInputs.REQUIRED, f"endpoints.{key}.")
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

    def _check(self, props: PropertyMap, client: ServingClient | None, log: Log) -> dict[str, Any]:
        if client is None:
            return {**props, "outcome": PREFLIGHT_SKIPPED}
        endpoints = preflight_endpoints(props)
        errors = []
        for checks in endpoints.values():
            request = preflight_request_of(checks)
            findings = check_preflight(client, request)
            if findings:
                errors.append(PreflightError(request.endpoint, findings))
        if errors:
            raise PreflightError.of_stack(errors)
        log(f"preflight passed for {len(endpoints)} endpoint(s): model versions, principals, secrets and tables exist")
        return {**props, "outcome": "passed"}

    def work(
        self,
        props: PropertyMap,
        client: ServingClient | None,
        policy: PollPolicy,
        log: Log,
        sleep: Callable[[float], None],
        recorded: PropertyMap | None = None,
    ) -> Work:
        return Work(lambda: self._check(props, client, log))

    def preview_work(self, props: PropertyMap, client: ServingClient | None, log: Log) -> Work | None:
        if has_unknowns(dict(props)):
            return None  # something is not known before the update: checked then
        return Work(lambda: self._check(props, client, log))

    def read(self, props: PropertyMap, client: ServingClient | None) -> dict[str, Any] | None:
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
    required = DeploymentInputs.REQUIRED
    watched = ("endpoint_name", "served_entities", "traffic", "external_models")
    computed = ("outcome",)

    def invalid(self, news: PropertyMap) -> list[Failure]:
        failures = _name_failure(news.get("endpoint_name")) + _entity_failures(news)
        entities = _all_entities(news)
        if not has_unknowns(entities) and not entities:
            failures.append(Failure("served_entities", "at least one served entity is required"))
        return failures

    def work(
        self,
        props: PropertyMap,
        client: ServingClient | None,
        policy: PollPolicy,
        log: Log,
        sleep: Callable[[float], None],
        recorded: PropertyMap | None = None,
    ) -> Work:
        inputs, workspace = DeploymentInputs.of(props), _workspace(client)
        expectation = inputs.expectation()

        def watch() -> None:
            outcome = watch_deployment(
                workspace, expectation, sleep=sleep, grace=expectation.timeout_seconds, not_seen_policy=policy
            )
            log(f"{expectation.endpoint}: deployment {outcome}")

        return Work(
            lambda: {**props, "outcome": "watched while pulumi-databricks deploys it"},
            watch=watch,
            watch_reports_on=(MODEL_SERVING_TYPE, inputs.endpoint_resource) if inputs.endpoint_resource else None,
        )

    def read(self, props: PropertyMap, client: ServingClient | None) -> dict[str, Any] | None:
        return dict(props)  # nothing live to record: the endpoint's own resources read it


KINDS: dict[str, ResourceKind] = {
    kind.token: kind
    for kind in (ReadinessKind(), RolloutKind(), NotificationsKind(), PreflightKind(), DeploymentKind())
}
