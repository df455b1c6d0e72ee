"""Proof that an endpoint serves: wait until it is ready as declared, then warm every served entity.

Databricks reports an update finished (NOT_UPDATING) even when the endpoint is NOT_READY or a served
entity failed, and the databricks-sdk waiter (and so Terraform and Asset Bundles) stops there. Here an
endpoint is ready only when the update is over, `state.ready` is READY, every served entity of the
active config is DEPLOYMENT_READY, and the active config serves exactly the declared versions and
traffic. Then each served entity is warmed directly, so a 10% or 0% version does not meet its first
real request cold.

Pure logic over `ServingClient`: no Pulumi here, so it is tested straight against the emulator.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from serving.model import (
    FAILED_DEPLOYMENTS,
    EndpointConfig,
    EndpointStateConfigUpdate,
    EndpointStateReady,
    ServedEntity,
    ServedModelStateDeployment,
    ServingEndpoint,
)
from serving.workspace import Invocation, ServingClient

# The API's states, named as before for the callers that import them from here.
READY = EndpointStateReady.READY
NOT_UPDATING = EndpointStateConfigUpdate.NOT_UPDATING
IN_PROGRESS = EndpointStateConfigUpdate.IN_PROGRESS
FAILED_UPDATES = (EndpointStateConfigUpdate.UPDATE_FAILED, EndpointStateConfigUpdate.UPDATE_CANCELED)
DEPLOYMENT_READY = ServedModelStateDeployment.DEPLOYMENT_READY
# Answers that mean "still starting": worth another try until the warmup deadline. 0 = no answer.
STILL_STARTING = frozenset({0, 429, 500, 502, 503, 504})
BUILD_LOG_LINES = 20
MAX_INVOCATION_SECONDS = 130.0
"""Databricks ends a request after 120 s server-side; wait a little longer for its answer."""

Log = Callable[[str], None]


class ReadinessError(Exception):
    """The endpoint cannot serve as declared. The message says which endpoint, entity and why."""


class Cancelled(Exception):  # noqa: N818 - a state, not a failure
    """The wait was stopped (Ctrl-C): raised by the `sleep` a caller passes in once it is told to stop."""


# --------------------------------------------------------------------------------------------------
# What the stack declared


@dataclass(frozen=True)
class DeclaredEntity:
    name: str
    entity_name: str
    entity_version: str
    scale_to_zero: bool = False


@dataclass(frozen=True)
class Expectation:
    """What the stack declared for one endpoint, and how long readiness may take to prove it."""

    endpoint: str
    served_entities: tuple[DeclaredEntity, ...]
    traffic: Mapping[str, int]
    timeout_seconds: float
    input_example: Mapping[str, Any] | None = None
    warmup_timeout_seconds: float = 900.0
    route_optimized: bool = False
    """Called at its own URL with an OAuth token, through its traffic split only."""
    probes: Mapping[str, str] = field(default_factory=dict)
    """External models (served entity name -> task): ready once a probe request succeeds (serving.probes)."""

    @property
    def served_versions(self) -> dict[str, str]:
        return {entity.name: entity.entity_version for entity in self.served_entities}

    def fingerprint(self) -> str:
        """Identifies what is verified: entities, versions, traffic and warmup, not the deadlines."""
        material = {
            "endpoint": self.endpoint,
            "served_entities": [asdict(entity) for entity in self.served_entities],
            "traffic": dict(sorted(self.traffic.items())),
            "input_example": self.input_example,
        }
        if self.probes:  # only then: the fingerprints of endpoints without external models stay as they were
            material["probes"] = dict(sorted(self.probes.items()))
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


MAX_SENT_SHOWN = 300
"""Characters of a rejected request body an error quotes (a body may be up to 16 MB)."""


def _sent(body: Mapping[str, Any] | None, default: Mapping[str, Any] | None) -> str:
    """The body as sent (the same serialisation as `ServingClient.invoke`), shortened for an error: the
    types matter (`42` or `42.0`) when a model's signature refuses it."""
    text = json.dumps(body if body is not None else default)
    return text if len(text) <= MAX_SENT_SHOWN else f"{text[:MAX_SENT_SHOWN]}... ({len(text)} characters)"


@dataclass(frozen=True)
class PollPolicy:
    """How often to look and how long to tolerate a stale config.

    The defaults poll like databricks-sdk's waiter (`min(attempt, 10)` seconds), so readiness makes no
    more GET calls than the sdk would over the same provisioning time.
    """

    first_delay: float = 1.0
    max_delay: float = 10.0
    jitter: float = 0.1
    """Fraction of each delay added at random, so that many endpoints do not poll in lockstep."""
    stale_config_grace: float = 60.0
    """How long NOT_UPDATING with an active config other than the declared one is taken for lag."""
    progress_every: float = 15.0
    """Seconds between progress lines while nothing changes."""

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after
        base = min(self.first_delay * attempt, self.max_delay)
        return base * (1 + random.uniform(0, self.jitter))


# --------------------------------------------------------------------------------------------------
# Reading an endpoint's state


@dataclass(frozen=True)
class Assessment:
    """What one GET of the endpoint says about readiness."""

    verdict: str  # "ready" | "waiting" | "failed"
    progress: str
    failed_entity: str | None = None
    reason: str = ""
    suspects: tuple[str, ...] = ()
    """Served entities whose build logs explain a failure."""


ConfigBody = EndpointConfig | Mapping[str, Any] | None
"""A config as the model holds it, or as the raw API body (the plugin's callers still pass those)."""


def routes_of(config: ConfigBody) -> dict[str, int]:
    """Served entity -> traffic percentage of a config."""
    parsed = EndpointConfig.parse(config)
    return parsed.traffic if parsed else {}


def serving_summary(config: ConfigBody) -> str:
    """`risk_classifier-3 v3 90%, risk_classifier-4 v4 10%`: what a config serves, for messages."""
    parsed = EndpointConfig.parse(config)
    return parsed.summary() if parsed else "nothing"


def declared_summary(expectation: Expectation) -> str:
    return ", ".join(
        f"{entity.name} v{entity.entity_version} {expectation.traffic.get(entity.name, 0)}%"
        for entity in expectation.served_entities
    )


def config_matches(config: ConfigBody, expectation: Expectation) -> bool:
    """The config serves exactly the declared entities, versions and traffic."""
    parsed = EndpointConfig.parse(config)
    if not parsed:
        return False
    served = {entity.name: (entity.entity_name, str(entity.entity_version)) for entity in parsed.served_entities}
    declared = {entity.name: (entity.entity_name, entity.entity_version) for entity in expectation.served_entities}
    routes = {name: share for name, share in parsed.traffic.items() if share}
    declared_routes = {name: share for name, share in expectation.traffic.items() if share}
    return served == declared and routes == declared_routes


def _stale(endpoint: ServingEndpoint, expectation: Expectation) -> bool:
    """Not updating, yet serving another config than the declared one (lag, or someone else's change)."""
    return endpoint.state.config_update == NOT_UPDATING and not config_matches(endpoint.config, expectation)


def assess(
    endpoint: ServingEndpoint | Mapping[str, Any], expectation: Expectation, stale_for: float, grace: float
) -> Assessment:
    """Ready, still waiting, or failed, from one GET of the endpoint.

    `stale_for` is how long the endpoint has shown NOT_UPDATING with a config other than the declared one.
    """
    if not isinstance(endpoint, ServingEndpoint):
        endpoint = ServingEndpoint.from_dict(endpoint)
    update, ready = endpoint.state.config_update, endpoint.state.ready
    active, pending = endpoint.config, endpoint.pending_config
    matches = config_matches(active, expectation)
    watched = (pending or active or EndpointConfig()).served_entities
    deployed = sum(1 for entity in watched if entity.ready)
    progress = f"{update.value}, {ready.value}, {deployed} of {len(watched)} served entities ready"
    failed = _failed_entity(watched, expectation, progress)
    if failed is not None:
        if not matches and active and active.served_entities and update != IN_PROGRESS:
            return Assessment(
                failed.verdict,
                progress,
                failed.failed_entity,
                f"{failed.reason}; the endpoint still serves {serving_summary(active)}",
                failed.suspects,
            )
        return failed
    if update.failed and not matches:
        serving = active.names if active else set()
        return Assessment(
            "failed",
            progress,
            None,
            f"{update.value}: the update did not apply; the endpoint still serves {serving_summary(active)}",
            tuple(sorted({entity.name for entity in expectation.served_entities} - serving)),
        )
    if update == IN_PROGRESS or pending:
        return Assessment("waiting", progress)
    if not matches:
        if stale_for >= grace:
            return Assessment(
                "failed",
                progress,
                None,
                f"the endpoint serves {serving_summary(active)}, the stack declares {declared_summary(expectation)}; "
                "another change replaced the config, or the update never reached the endpoint",
            )
        return Assessment("waiting", f"{progress}; active config is not the declared one yet")
    if ready != READY:
        return Assessment("waiting", progress)
    not_ready = [entity.name for entity in watched if not entity.ready]
    if not_ready:
        return Assessment("waiting", f"{progress}; waiting for {', '.join(not_ready)}")
    return Assessment("ready", progress)


def _failed_entity(watched: tuple[ServedEntity, ...], expectation: Expectation, progress: str) -> Assessment | None:
    """The declared served entity whose deployment failed, the cause first (FAILED before ABORTED)."""
    declared_names = {entity.name for entity in expectation.served_entities}
    by_cause = sorted(
        watched,
        key=lambda entity: (
            FAILED_DEPLOYMENTS.index(entity.deployment) if entity.state.failed else len(FAILED_DEPLOYMENTS)
        ),
    )
    for entity in by_cause:
        if entity.state.failed and entity.name in declared_names:
            reason = f"{entity.deployment.value}: {entity.state.deployment_state_message or 'no message'}"
            return Assessment("failed", progress, entity.name, reason, (entity.name,))
    return None


# --------------------------------------------------------------------------------------------------
# Outcome


@dataclass
class EntityWarmup:
    """How warming one served entity went."""

    version: str
    attempts: int
    first_request_seconds: float
    """From the first warmup request until the first successful answer: what a cold start costs."""
    warm_latency_ms: float
    """Latency of a request once the entity answered: what callers see from now on."""


@dataclass
class Verified:
    """An endpoint proven to serve as declared: the readiness resource's outputs."""

    endpoint_id: str
    config_version: int | None
    verified_versions: dict[str, str]
    verified_traffic: dict[str, int]
    waited_seconds: float
    polls: int
    fingerprint: str
    warmed: dict[str, EntityWarmup] = field(default_factory=dict)
    """Per served entity: how warming it went (none without an input example)."""
    route: dict[str, Any] = field(default_factory=dict)
    """The request sent through the endpoint's own traffic split: who answered, how fast."""

    def outputs(self) -> dict[str, Any]:
        return asdict(self)


def _format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _failure(client: ServingClient, expectation: Expectation, assessment: Assessment) -> ReadinessError:
    lines = [f"endpoint {expectation.endpoint} cannot serve: "]
    if assessment.failed_entity:
        declared = {entity.name: entity for entity in expectation.served_entities}[assessment.failed_entity]
        lines[0] += (
            f"served entity {declared.name} ({declared.entity_name} v{declared.entity_version}) {assessment.reason}"
        )
    else:
        lines[0] += assessment.reason
    for served in assessment.suspects:
        logs = client.build_logs(expectation.endpoint, served)
        tail = [line for line in logs.splitlines() if line.strip()][-BUILD_LOG_LINES:]
        if tail:
            lines.append(f"last build log lines of {served}:")
            lines.extend(f"  | {line}" for line in tail)
    return ReadinessError("\n".join(lines))


# --------------------------------------------------------------------------------------------------
# Waiting and warming


class Readiness:
    """Waits for one endpoint and warms it. One instance per verification."""

    def __init__(
        self,
        client: ServingClient,
        expectation: Expectation,
        policy: PollPolicy = PollPolicy(),
        log: Log = lambda line: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.expectation = expectation
        self.policy = policy
        self.log = log
        self.clock = clock
        self.sleep = sleep

    def run(self) -> Verified:
        started = self.clock()
        endpoint, polls = self.wait_until_ready(started + self.expectation.timeout_seconds)
        verified = Verified(
            endpoint_id=endpoint.id,
            config_version=endpoint.config.config_version if endpoint.config else None,
            verified_versions=self.expectation.served_versions,
            verified_traffic={name: int(share) for name, share in self.expectation.traffic.items()},
            waited_seconds=0.0,
            polls=polls,
            fingerprint=self.expectation.fingerprint(),
        )
        if self.expectation.input_example is not None:
            verified.warmed, verified.route = self.warm(self.clock() + self.expectation.warmup_timeout_seconds)
        if self.expectation.probes:
            verified.warmed.update(self.probe(self.clock() + self.expectation.warmup_timeout_seconds))
        verified.waited_seconds = round(self.clock() - started, 3)
        self.log(f"{self.expectation.endpoint}: serving {declared_summary(self.expectation)}, verified")
        return verified

    def probe(self, deadline: float) -> dict[str, EntityWarmup]:
        """External models are not warmed up: each is ready once a probe request of its task is answered."""
        from serving.probes import probe_external_models  # here: serving.probes knows this module's Verifier

        probed = probe_external_models(self.expectation.probes, self.answer, self.clock, deadline)
        return {name: EntityWarmup(**result) for name, result in probed.items()}

    def wait_until_ready(self, deadline: float) -> tuple[ServingEndpoint, int]:
        """Poll until the endpoint is ready as declared; raise `ReadinessError` on failure or deadline."""
        started = self.clock()
        polls, stale_since = 0, None
        last_progress, last_logged = "", float("-inf")
        last_serving: str | None = None
        while True:
            polls += 1
            try:
                endpoint = self.client.get_serving_endpoint(self.expectation.endpoint)
            except requests.RequestException as error:
                # The workspace did not answer (after the client's own retries): an outage is waited out
                # until the deadline like any other delay, and the message then says it was one.
                now = self.clock()
                progress = f"no answer from the workspace ({type(error).__name__})"
                if progress != last_progress or now - last_logged >= self.policy.progress_every:
                    self.log(f"{self.expectation.endpoint}: {progress}, {_format_elapsed(now - started)}")
                    last_progress, last_logged = progress, now
                self._wait_or_fail(polls, now, started, deadline, progress, last_serving)
                continue
            now = self.clock()
            if endpoint is None:
                raise ReadinessError(f"endpoint {self.expectation.endpoint} does not exist in the workspace")
            stale = _stale(endpoint, self.expectation)
            stale_since = (stale_since if stale_since is not None else now) if stale else None
            assessment = assess(
                endpoint,
                self.expectation,
                now - stale_since if stale_since is not None else 0.0,
                self.policy.stale_config_grace,
            )
            if assessment.verdict == "ready":
                return endpoint, polls
            if assessment.verdict == "failed":
                raise _failure(self.client, self.expectation, assessment)
            last_serving = endpoint.serving()
            if assessment.progress != last_progress or now - last_logged >= self.policy.progress_every:
                self.log(f"{self.expectation.endpoint}: {assessment.progress}, {_format_elapsed(now - started)}")
                last_progress, last_logged = assessment.progress, now
            self._wait_or_fail(polls, now, started, deadline, assessment.progress, last_serving)

    def _wait_or_fail(
        self, polls: int, now: float, started: float, deadline: float, progress: str, serving: str | None
    ) -> None:
        """Sleep before the next poll, or fail when the next poll would come after the deadline."""
        delay = self.policy.delay(polls)
        if now + delay > deadline:
            serves = f"it serves {serving}" if serving is not None else "its state was never read"
            raise ReadinessError(
                f"endpoint {self.expectation.endpoint} was not ready within "
                f"{_format_elapsed(deadline - started)} ({progress}); {serves}, the stack declares "
                f"{declared_summary(self.expectation)}. Raise readiness.timeout_minutes if the "
                "workspace is just slow."
            )
        self.sleep(delay)

    def warm(self, deadline: float) -> tuple[dict[str, EntityWarmup], dict[str, Any]]:
        """Warm every served entity directly, concurrently, then send one request through the route."""
        if self.expectation.route_optimized:
            return self.warm_through_route(deadline)
        entities = self.expectation.served_entities
        with ThreadPoolExecutor(max_workers=len(entities), thread_name_prefix="warmup") as pool:
            futures = {entity.name: pool.submit(self.warm_entity, entity, deadline) for entity in entities}
            warmups = {name: future.result() for name, future in futures.items()}
        answer = self.answer(None, deadline)[0]
        route = {"served_model": answer.served_model, "latency_ms": round(answer.seconds * 1000, 1)}
        return warmups, route

    def warm_through_route(self, deadline: float) -> tuple[dict[str, EntityWarmup], dict[str, Any]]:
        """A route-optimized endpoint has no per-entity URL: send requests through its traffic split until
        every entity with a share has answered (the `served-model-name` header says who did). An entity at
        0% takes no request there, so it cannot be warmed: the route output names it."""
        sharing = [entity for entity in self.expectation.served_entities if self.expectation.traffic.get(entity.name)]
        pending = {entity.name: entity for entity in sharing}
        warmups: dict[str, EntityWarmup] = {}
        started, attempts = self.clock(), 0
        answer = None
        # Each request reaches an entity with its share's probability: 20 tries per entity and percent of
        # the smallest share makes missing one vanishingly unlikely.
        smallest = min((self.expectation.traffic[name] for name in pending), default=100)
        budget = 20 * max(1, len(pending)) * max(1, 100 // max(1, smallest))
        while pending and attempts < budget:
            answer, tries = self.answer(None, deadline)
            attempts += tries
            entity = pending.pop(answer.served_model or "", None)
            if entity is not None:
                warmups[entity.name] = EntityWarmup(
                    version=entity.entity_version,
                    attempts=attempts,
                    first_request_seconds=round(self.clock() - started, 3),
                    warm_latency_ms=round(answer.seconds * 1000, 1),
                )
                self.log(
                    f"{self.expectation.endpoint}: {entity.name} answered through the route after {attempts} request(s)"
                )
        if pending:
            raise ReadinessError(
                f"endpoint {self.expectation.endpoint}: {', '.join(sorted(pending))} never answered through the "
                f"route-optimized URL in {attempts} requests, although the traffic split gives them a share"
            )
        if answer is None:
            answer = self.answer(None, deadline)[0]
        route = {
            "served_model": answer.served_model,
            "latency_ms": round(answer.seconds * 1000, 1),
            "not_warmed": sorted(e.name for e in self.expectation.served_entities if e.name not in warmups),
        }
        return warmups, route

    def warm_entity(self, entity: DeclaredEntity, deadline: float) -> EntityWarmup:
        started = self.clock()
        answer, attempts = self.answer(entity.name, deadline)
        first_request_seconds = self.clock() - started
        warm = self.invoke(entity.name, deadline)
        if not warm.ok:
            warm = answer  # a warm request that failed says nothing new: keep the successful one
        self.log(
            f"{self.expectation.endpoint}: {entity.name} warm after {attempts} attempt(s), "
            f"{first_request_seconds:.1f}s; warm latency {warm.seconds * 1000:.0f}ms"
        )
        return EntityWarmup(
            version=entity.entity_version,
            attempts=attempts,
            first_request_seconds=round(first_request_seconds, 3),
            warm_latency_ms=round(warm.seconds * 1000, 1),
        )

    def invoke(self, served_entity: str | None, deadline: float, body: Mapping[str, Any] | None = None) -> Invocation:
        """One request (the input example by default) to a served entity, or through the traffic split."""
        timeout = max(1.0, min(MAX_INVOCATION_SECONDS, deadline - self.clock()))
        body = body if body is not None else self.expectation.input_example
        assert body is not None
        return self.client.invoke(
            self.expectation.endpoint,
            body,
            served_entity=served_entity,
            timeout=timeout,
            route_optimized=self.expectation.route_optimized,
        )

    def answer(
        self,
        served_entity: str | None,
        deadline: float,
        body: Mapping[str, Any] | None = None,
        what: str = "the warmup input example",
        fix: str = "readiness.warmup.input_example",
    ) -> tuple[Invocation, int]:
        """Send a request until it is answered; 'still starting' answers are retried until `deadline`."""
        target = f"served entity {served_entity}" if served_entity else "the endpoint's traffic split"
        attempts = 0
        while True:
            attempts += 1
            answer = self.invoke(served_entity, deadline, body)
            if answer.ok:
                return answer, attempts
            if answer.status not in STILL_STARTING:
                raise ReadinessError(
                    f"endpoint {self.expectation.endpoint}: {target} rejected {what} with "
                    f"HTTP {answer.status}: {answer.body}. Sent: {_sent(body, self.expectation.input_example)}. "
                    f"Fix {fix} (or the model's signature) so that it matches what callers send."
                )
            delay = self.policy.delay(attempts, answer.retry_after)
            if self.clock() + delay > deadline:
                status = f"HTTP {answer.status}" if answer.status else f"no answer ({answer.body})"
                raise ReadinessError(
                    f"endpoint {self.expectation.endpoint}: {target} did not answer {what} "
                    f"within the warmup timeout after {attempts} attempts; last answer: {status}"
                )
            self.sleep(delay)


# --------------------------------------------------------------------------------------------------
# Watching a deployment the databricks provider makes


WATCH_INTERVAL_SECONDS = 2.0
"""How often a deployment is looked at while the databricks provider makes it: the provider's own waiter
backs off to 10 s, and a failed create is deleted as soon as it sees it, so the cause must be read first."""
FIRST_WATCH_PAUSE_SECONDS = 0.25
"""The first pauses grow by this much (0.25 s, 0.5 s, ...) up to the interval: the provider's waiter first looks
after 1 s."""


def watch_deployment(
    client: ServingClient,
    expectation: Expectation,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = WATCH_INTERVAL_SECONDS,
    grace: float = 60.0,
    not_seen_policy: PollPolicy | None = None,
) -> str:
    """Follow an endpoint while pulumi-databricks creates or updates it; fail with the cause (the served
    entity, its state message, the build log's tail) when the deployment fails.

    The databricks provider reports a failed deployment only as `failed to reach NOT_UPDATING, got
    UPDATE_FAILED`, and deletes an endpoint whose creation failed: without this nobody sees why. Returns
    what was seen when the endpoint serves the declared entities, or when no deployment of them shows within
    `grace` (no change reached the endpoint: the databricks provider says why, if anything failed).
    """
    name = expectation.endpoint
    started = clock()
    deadline = started + expectation.timeout_seconds
    seen = False
    stale_since: float | None = None
    polls = 0
    while True:
        try:
            endpoint = client.get_serving_endpoint(name)
        except requests.RequestException:
            endpoint, unanswered = None, True
        else:
            unanswered = False
        now = clock()
        deploying = False
        if endpoint is not None:
            seen = True
            deploying = endpoint.state.updating
            stale = _stale(endpoint, expectation)
            stale_since = (stale_since if stale_since is not None else now) if stale else None
            assessment = assess(endpoint, expectation, 0.0, math.inf)
            if assessment.verdict == "ready":
                return f"deployed: {endpoint.serving()}"
            if assessment.verdict == "failed":
                raise _failure(client, expectation, assessment)
            if stale_since is not None and now - stale_since >= grace:
                return f"no deployment of the declared entities seen in {grace:g}s"
        elif seen and not unanswered:
            raise ReadinessError(
                f"endpoint {name} was deleted while it deployed, before its state could be read (pulumi-databricks "
                "deletes an endpoint whose creation failed): its error on the endpoint's row is all there is; "
                "the workspace's serving UI keeps no build log of a deleted endpoint"
            )
        elif not unanswered and now - started >= grace and not seen:
            return f"endpoint {name} did not appear within {grace:g}s"
        # Quick at first (a create is seen from its first second), then once every `interval`; slower while
        # nothing deploys (the ModelServing may wait for one of the engine's step slots).
        polls += 1
        pause = min(interval, FIRST_WATCH_PAUSE_SECONDS * polls)
        if not deploying and not_seen_policy is not None and polls > 4:
            pause = not_seen_policy.delay(polls - 4)
        if now + pause > deadline:
            return f"still deploying after {_format_elapsed(now - started)}; readiness waits for it"
        sleep(pause)
