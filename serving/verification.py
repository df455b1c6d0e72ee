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

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from serving.declared import (  # what the stack declared; importable from here as before
    DeclaredEntity,
    Expectation,
    Log,
    ReadinessError,
    declared_summary,
    format_elapsed,
)
from serving.model import (
    FAILED_DEPLOYMENTS,
    EndpointConfig,
    EndpointStateConfigUpdate,
    EndpointStateReady,
    ServedEntity,
    ServedModelStateDeployment,
    ServingEndpoint,
)
from serving.polling import DEFAULT_POLICY, Cancelled, Clock, Done, Pending, PollPolicy, Sleep, WaitTimedOut, poll
from serving.probes import probe_external_models
from serving.warmup import MAX_INVOCATION_SECONDS, MAX_SENT_SHOWN, STILL_STARTING, EntityWarmup, Warmup
from serving.workspace import ServingClient

__all__ = [  # the names callers import from here, wherever they live now
    "BUILD_LOG_LINES",
    "DEPLOYMENT_READY",
    "FAILED_UPDATES",
    "IN_PROGRESS",
    "MAX_INVOCATION_SECONDS",
    "MAX_SENT_SHOWN",
    "NOT_UPDATING",
    "READY",
    "STILL_STARTING",
    "Assessment",
    "Cancelled",
    "DeclaredEntity",
    "EntityWarmup",
    "Expectation",
    "Log",
    "PollPolicy",
    "Readiness",
    "ReadinessError",
    "Verified",
    "assess",
    "config_matches",
    "declared_summary",
    "routes_of",
    "serving_summary",
    "watch_deployment",
]

# The API's states, named as before for the callers that import them from here.
READY = EndpointStateReady.READY
NOT_UPDATING = EndpointStateConfigUpdate.NOT_UPDATING
IN_PROGRESS = EndpointStateConfigUpdate.IN_PROGRESS
FAILED_UPDATES = (EndpointStateConfigUpdate.UPDATE_FAILED, EndpointStateConfigUpdate.UPDATE_CANCELED)
DEPLOYMENT_READY = ServedModelStateDeployment.DEPLOYMENT_READY
BUILD_LOG_LINES = 20


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


@dataclass(frozen=True)
class _Seen:
    """What one look at the endpoint showed, kept for the message of a wait that runs out of time."""

    progress: str
    serving: str | None
    """What the endpoint served at the last look that read it; None while it was never read."""

    def __str__(self) -> str:
        return self.progress


class Readiness:
    """Waits for one endpoint and warms it. One instance per verification."""

    def __init__(
        self,
        client: ServingClient,
        expectation: Expectation,
        policy: PollPolicy = DEFAULT_POLICY,
        log: Log = lambda line: None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ):
        self.client = client
        self.expectation = expectation
        self.policy = policy
        self.log = log
        self.clock = clock
        self.sleep = sleep
        self.warmup = Warmup(client, expectation, policy, log, clock, sleep)

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
            verified.warmed, verified.route = self.warmup.warm(self.clock() + self.expectation.warmup_timeout_seconds)
        if self.expectation.probes:
            verified.warmed.update(self.probe(self.clock() + self.expectation.warmup_timeout_seconds))
        verified.waited_seconds = round(self.clock() - started, 3)
        self.log(f"{self.expectation.endpoint}: serving {declared_summary(self.expectation)}, verified")
        return verified

    def probe(self, deadline: float) -> dict[str, EntityWarmup]:
        """External models are not warmed up: each is ready once a probe request of its task is answered."""
        probed = probe_external_models(self.expectation.probes, self.warmup.answer, self.clock, deadline)
        return {name: EntityWarmup(**result) for name, result in probed.items()}

    def wait_until_ready(self, deadline: float) -> tuple[ServingEndpoint, int]:
        """Poll until the endpoint is ready as declared; raise `ReadinessError` on failure or deadline."""
        expectation, started = self.expectation, self.clock()
        stale_since: float | None = None
        serving: str | None = None
        said = ("", -math.inf)  # the last progress line, and when it was logged

        def look(_attempt: int) -> Done[ServingEndpoint] | Pending[_Seen]:
            nonlocal stale_since, serving, said
            try:
                endpoint = self.client.get_serving_endpoint(expectation.endpoint)
            except requests.RequestException as error:
                # The workspace did not answer (after the client's own retries): an outage is waited out
                # until the deadline like any other delay, and the message then says it was one.
                progress = f"no answer from the workspace ({type(error).__name__})"
            else:
                now = self.clock()
                if endpoint is None:
                    raise ReadinessError(f"endpoint {expectation.endpoint} does not exist in the workspace")
                stale_since = (
                    (stale_since if stale_since is not None else now) if _stale(endpoint, expectation) else None
                )
                stale_for = now - stale_since if stale_since is not None else 0.0
                assessment = assess(endpoint, expectation, stale_for, self.policy.stale_config_grace)
                if assessment.verdict == "ready":
                    return Done(endpoint)
                if assessment.verdict == "failed":
                    raise _failure(self.client, expectation, assessment)
                serving, progress = endpoint.serving(), assessment.progress
            now = self.clock()
            if progress != said[0] or now - said[1] >= self.policy.progress_every:
                self.log(f"{expectation.endpoint}: {progress}, {format_elapsed(now - started)}")
                said = (progress, now)
            return Pending(_Seen(progress, serving))

        try:
            polled = poll(
                look,
                awaited=f"endpoint {expectation.endpoint} ready",
                deadline=deadline,
                backoff=self.policy.backoff,
                clock=self.clock,
                sleep=self.sleep,
            )
        except WaitTimedOut as timeout:
            seen: _Seen = timeout.last
            serves = f"it serves {seen.serving}" if seen.serving is not None else "its state was never read"
            raise ReadinessError(
                f"endpoint {expectation.endpoint} was not ready within "
                f"{format_elapsed(deadline - started)} ({seen.progress}); {serves}, the stack declares "
                f"{declared_summary(expectation)}. Raise readiness.timeout_minutes if the workspace is just slow."
            ) from None
        return polled.value, polled.attempts


# --------------------------------------------------------------------------------------------------
# Watching a deployment the databricks provider makes


WATCH_INTERVAL_SECONDS = 2.0
"""How often a deployment is looked at while the databricks provider makes it: the provider's own waiter
backs off to 10 s, and a failed create is deleted as soon as it sees it, so the cause must be read first."""
FIRST_WATCH_PAUSE_SECONDS = 0.25
"""The first pauses grow by this much (0.25 s, 0.5 s, ...) up to the interval: the provider's waiter first looks
after 1 s."""


def _watch_pace(interval: float, not_seen_policy: PollPolicy | None) -> Callable[[int, bool], float]:
    """The watch's pause after look `polls`, given whether a config update runs."""

    def pause(polls: int, deploying: bool) -> float:
        # Quick at first (a create is seen from its first second), then once every `interval`; slower while
        # nothing deploys (the ModelServing may wait for one of the engine's step slots).
        if not deploying and not_seen_policy is not None and polls > 4:
            return not_seen_policy.delay(polls - 4)
        return min(interval, FIRST_WATCH_PAUSE_SECONDS * polls)

    return pause


def _deleted_while_deploying(name: str) -> ReadinessError:
    return ReadinessError(
        f"endpoint {name} was deleted while it deployed, before its state could be read (pulumi-databricks "
        "deletes an endpoint whose creation failed): its error on the endpoint's row is all there is; "
        "the workspace's serving UI keeps no build log of a deleted endpoint"
    )


def watch_deployment(
    client: ServingClient,
    expectation: Expectation,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
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
    name, started = expectation.endpoint, clock()
    seen = False
    stale_since: float | None = None

    def look(_attempt: int) -> Done[str] | Pending[bool]:
        """Done with what was seen, or Pending with whether a config update runs (it sets the pace)."""
        nonlocal seen, stale_since
        try:
            endpoint, unanswered = client.get_serving_endpoint(name), False
        except requests.RequestException:
            endpoint, unanswered = None, True
        now = clock()
        if endpoint is not None:
            seen = True
            stale_since = (stale_since if stale_since is not None else now) if _stale(endpoint, expectation) else None
            assessment = assess(endpoint, expectation, 0.0, math.inf)
            if assessment.verdict == "ready":
                return Done(f"deployed: {endpoint.serving()}")
            if assessment.verdict == "failed":
                raise _failure(client, expectation, assessment)
            if stale_since is not None and now - stale_since >= grace:
                return Done(f"no deployment of the declared entities seen in {grace:g}s")
            return Pending(endpoint.state.updating)
        if seen and not unanswered:
            raise _deleted_while_deploying(name)
        if not unanswered and now - started >= grace:
            return Done(f"endpoint {name} did not appear within {grace:g}s")
        return Pending(False)

    deadline, pace = started + expectation.timeout_seconds, _watch_pace(interval, not_seen_policy)
    try:
        return poll(
            look, awaited=f"deployment of {name}", deadline=deadline, backoff=pace, clock=clock, sleep=sleep
        ).value
    except WaitTimedOut as timeout:
        return f"still deploying after {format_elapsed(timeout.waited)}; readiness waits for it"
