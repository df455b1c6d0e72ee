"""The `EndpointReadiness` dynamic resource: `pulumi up` ends only when the endpoint serves, warm.

After its endpoint and permissions, every `ServingEndpoint` declares one of these. Creating or updating
it waits until the endpoint is ready as declared and warms every served entity (components.verification);
a failure fails the deployment with the endpoint, the served entity, the reason and the build-log tail.

Concurrency. Pulumi's Python provider host runs at most four provider calls at once, for all dynamic
resources of a stack, so a fifth endpoint's `create` would only start once one of the first four has
finished waiting. Verification therefore runs on this module's own threads (`_VERIFICATIONS`), and
starts at the earliest call the engine makes for the resource during `pulumi up`: `check`, which the
engine sends as soon as the program registers the resource (after its endpoint was created or updated)
and which returns at once. `create`/`update` then only wait for that verification's result. The program
tells `check` whether it runs for a preview (`phase`), so a preview never polls or sends a request.

Credentials. The provider object is pickled into the state (`__provider`): it holds nothing but its poll
policy. The engine hands the decrypted stack config to `configure` inside the provider host; the client
built from it lives only in that process and is never pickled, returned, logged or put in an error.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown

from components.config import INPUT_FORMATS, NAME_PATTERN, EndpointSpec
from components.verification import (
    DeclaredEntity,
    Expectation,
    PollPolicy,
    Readiness,
    Verified,
    config_matches,
)
from components.workspace import ServingClient

# Inputs whose change means "verify again". Deadlines and `phase` are not among them.
VERIFIED_INPUTS = ("endpoint_name", "endpoint_id", "served_entities", "traffic", "warmup")
INPUT_KEYS = (*VERIFIED_INPUTS, "timeout_seconds", "phase")
PREVIEW, APPLY = "preview", "apply"

# One pool per provider host process. Waiting is I/O: threads are cheap, and 32 covers stacks far larger
# than the engine would run at once.
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="readiness")
_VERIFICATIONS: dict[str, Future[Verified]] = {}
_VERIFICATIONS_LOCK = threading.Lock()


def _log(line: str) -> None:
    # The engine shows what a provider writes to stderr while the resource is being created.
    print(line, file=sys.stderr, flush=True)


def _has_unknowns(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknowns(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_unknowns(item) for item in value)
    return False


def _relevant(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: inputs.get(key) for key in VERIFIED_INPUTS}


def expectation_of(inputs: Mapping[str, Any]) -> Expectation:
    """The verification the resource's inputs ask for."""
    warmup = inputs.get("warmup") or {}
    return Expectation(
        endpoint=inputs["endpoint_name"],
        served_entities=tuple(
            DeclaredEntity(
                name=entity["name"],
                entity_name=entity["entity_name"],
                entity_version=str(entity["entity_version"]),
                scale_to_zero=bool(entity.get("scale_to_zero", False)),
            )
            for entity in inputs["served_entities"]
        ),
        traffic={name: int(share) for name, share in (inputs.get("traffic") or {}).items()},
        timeout_seconds=float(inputs["timeout_seconds"]),
        input_example=warmup.get("input_example"),
        warmup_timeout_seconds=float(warmup.get("timeout_seconds", 900)),
    )


def check_inputs(inputs: Mapping[str, Any]) -> list[CheckFailure]:
    """What is wrong with the inputs, skipping values not known yet (a preview of a new endpoint)."""
    failures: list[CheckFailure] = []
    name = inputs.get("endpoint_name")
    if not isinstance(name, Unknown) and not (isinstance(name, str) and NAME_PATTERN.match(name)):
        failures.append(CheckFailure("endpoint_name", f"{name!r} is not a serving endpoint name"))
    entities = inputs.get("served_entities")
    traffic = inputs.get("traffic")
    if not _has_unknowns(entities):
        if not isinstance(entities, list) or not entities:
            failures.append(CheckFailure("served_entities", "at least one served entity is required"))
        elif not _has_unknowns(traffic):
            names = {entity.get("name") for entity in entities}
            if not isinstance(traffic, dict) or sum(int(v) for v in traffic.values()) != 100:
                failures.append(CheckFailure("traffic", "routes must sum to 100"))
            elif set(traffic) != names:
                failures.append(
                    CheckFailure("traffic", f"routes {sorted(traffic)} must cover the served entities {sorted(names)}")
                )
    timeout = inputs.get("timeout_seconds")
    if not isinstance(timeout, Unknown) and not (isinstance(timeout, (int, float)) and timeout > 0):
        failures.append(CheckFailure("timeout_seconds", "must be a positive number of seconds"))
    example = (inputs.get("warmup") or {}).get("input_example")
    if isinstance(example, dict) and sum(1 for key in INPUT_FORMATS if key in example) != 1:
        failures.append(
            CheckFailure("warmup.input_example", f"needs exactly one of {', '.join(INPUT_FORMATS)}")
        )
    return failures


class EndpointReadinessProvider(ResourceProvider):
    """Verifies and warms a serving endpoint after every relevant change.

    Args:
        policy: polling cadence; the default polls like databricks-sdk's waiter.
    """

    def __init__(self, policy: PollPolicy | None = None):
        super().__init__()
        self.policy = policy or PollPolicy()
        self._client: ServingClient | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Only the policy is pickled into the state; the client (and what authenticates it) never is.
        return {"policy": self.policy}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.policy = state["policy"]
        self._client = None

    def configure(self, req: ConfigureRequest) -> None:
        self._client = ServingClient.from_stack_config(req.config.get)

    @property
    def client(self) -> ServingClient:
        if self._client is None:
            # Outside the engine (tests that skip Configure): environment variables and profiles only.
            self._client = ServingClient.from_stack_config(lambda key: None)
        return self._client

    # --- verification jobs -------------------------------------------------------------------------

    def _key(self, expectation: Expectation, endpoint_id: str) -> str:
        return f"{expectation.endpoint}/{endpoint_id}/{expectation.fingerprint()}"

    def start(self, inputs: Mapping[str, Any]) -> Future[Verified]:
        """Start verifying (or join the verification already running for the same inputs)."""
        expectation = expectation_of(inputs)
        key = self._key(expectation, str(inputs.get("endpoint_id") or ""))
        with _VERIFICATIONS_LOCK:
            future = _VERIFICATIONS.get(key)
            if future is None:
                readiness = Readiness(self.client, expectation, self.policy, log=_log)
                future = _POOL.submit(readiness.run)
                _VERIFICATIONS[key] = future
        return future

    def _verified(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        future = self.start(inputs)
        try:
            verified = future.result()
        finally:
            # The next `up` (or a retry) verifies afresh.
            with _VERIFICATIONS_LOCK:
                for key, running in list(_VERIFICATIONS.items()):
                    if running is future:
                        del _VERIFICATIONS[key]
        # Diff and update receive the old outputs, not the old inputs: the outputs carry the inputs too.
        declared = {key: value for key, value in inputs.items() if key in INPUT_KEYS}
        return {**declared, **verified.outputs()}

    # --- the engine's calls ------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = check_inputs(news)
        relevant = _relevant(news)
        changed = not _olds or _relevant(_olds) != relevant
        if not failures and changed and news.get("phase") == APPLY and not _has_unknowns(relevant):
            self.start(news)
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in VERIFIED_INPUTS if olds.get(key) != news.get(key)]
        # Deadlines and `phase` change nothing that was verified; the endpoint itself is never replaced here.
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outputs = self._verified(props)
        return CreateResult(id_=f"{props['endpoint_name']}-readiness", outs=outputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._verified(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: what the endpoint serves now. An endpoint deleted outside Pulumi reads as gone."""
        name = props.get("endpoint_name")
        endpoint = self.client.get_endpoint(name) if name else None
        if endpoint is None:
            return ReadResult(id_="", outs={})
        active = endpoint.get("config") or {}
        live = {
            "served_entities": [
                {
                    "name": entity.get("name"),
                    "entity_name": entity.get("entity_name"),
                    "entity_version": str(entity.get("entity_version")),
                    "scale_to_zero": bool(entity.get("scale_to_zero_enabled", False)),
                }
                for entity in active.get("served_entities") or []
            ],
            "traffic": {
                route.get("served_entity_name") or route.get("served_model_name"): int(route["traffic_percentage"])
                for route in (active.get("traffic_config") or {}).get("routes") or []
            },
        }
        state = endpoint.get("state") or {}
        outs = {
            **props,
            "endpoint_id": endpoint.get("id"),
            "live_state": {"ready": state.get("ready"), "config_update": state.get("config_update")},
            "live_served_versions": {e["name"]: e["entity_version"] for e in live["served_entities"]},
            "live_traffic": live["traffic"],
        }
        inputs = None
        if "served_entities" in props and not config_matches(active, expectation_of(props)):
            # Drift: record what actually serves, so that the next `up` sees a change and verifies again.
            declared = {key: value for key, value in props.items() if key in INPUT_KEYS}
            inputs = {**declared, **live, "endpoint_id": endpoint.get("id")}
        return ReadResult(id_=id_, outs=outs, inputs=inputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: the endpoint belongs to its ModelServing resource."""


def readiness_inputs(spec: EndpointSpec) -> dict[str, Any]:
    """The readiness resource's inputs for an endpoint, except the endpoint's name and id (outputs)."""
    endpoint = spec.endpoint
    warmup = endpoint.readiness.warmup
    return {
        "served_entities": [
            {
                "name": model.served_name,
                "entity_name": model.model,
                "entity_version": model.version,
                "scale_to_zero": model.scale_to_zero,
            }
            for model in endpoint.served_models
        ],
        "traffic": dict(endpoint.routes),
        "timeout_seconds": spec.readiness_timeout_minutes * 60,
        "warmup": {"input_example": warmup.input_example, "timeout_seconds": warmup.timeout_minutes * 60},
    }


_SERIALIZED_PROVIDERS: dict[int, tuple[EndpointReadinessProvider, str]] = {}


def _serialized(provider: EndpointReadinessProvider) -> str:
    """The provider pickled once per instance, not once per resource.

    pulumi 3.272's `serialize_provider` wraps `pickle._Pickler._batch_setitems` anew on every call and
    never restores it, so each call sorts every dict once more than the last: quadratic in the number
    of dynamic resources, and a RecursionError past ~470 of them in one process.
    """
    cached = _SERIALIZED_PROVIDERS.get(id(provider))
    if cached is None or cached[0] is not provider:
        cached = (provider, serialize_provider(provider))
        _SERIALIZED_PROVIDERS[id(provider)] = cached
    return cached[1]


class EndpointReadiness(pulumi.dynamic.Resource, module="serving", name="EndpointReadiness"):
    """Proof that an endpoint serves as declared, renewed on every relevant change.

    Outputs (no credential among them), besides the inputs:
        verified_versions: served entity -> model version, as verified on the endpoint.
        verified_traffic: served entity -> percentage, as verified.
        warmed: per served entity, attempts, first-request seconds and warm latency.
        route: who answered the request sent through the traffic split, and how fast.
        waited_seconds: time from the start of verification to the end of warmup.
        fingerprint: identifies the verified entities, versions, traffic and warmup input.
    """

    endpoint_name: pulumi.Output[str]
    verified_versions: pulumi.Output[dict[str, str]]
    verified_traffic: pulumi.Output[dict[str, int]]
    warmed: pulumi.Output[dict[str, Any]]
    route: pulumi.Output[dict[str, Any]]
    waited_seconds: pulumi.Output[float]
    fingerprint: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        spec: EndpointSpec,
        endpoint_name: pulumi.Input[str],
        endpoint_id: pulumi.Input[str],
        provider: EndpointReadinessProvider | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare readiness for the endpoint of `spec`, known by name and id once it exists."""
        props = {
            "endpoint_name": endpoint_name,
            "endpoint_id": endpoint_id,
            **readiness_inputs(spec),
            "phase": PREVIEW if pulumi.runtime.is_dry_run() else APPLY,
            # Outputs, declared so that they can be read as attributes.
            "verified_versions": None,
            "verified_traffic": None,
            "warmed": None,
            "route": None,
            "waited_seconds": None,
            "fingerprint": None,
        }
        # What pulumi.dynamic.Resource.__init__ does, with the provider serialized once (see `_serialized`);
        # like the sdk by default, the serialized provider is stored as a secret.
        props["__provider"] = pulumi.Output.secret(_serialized(provider or EndpointReadinessProvider()))
        pulumi.CustomResource.__init__(self, f"pulumi-python:{self._resource_type_name}", name, props, opts)
