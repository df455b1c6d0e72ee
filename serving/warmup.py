"""Warming an endpoint that serves: a request to every served entity, so none meets its first caller cold.

A 10% or 0% version takes few requests, so it stays cold until a caller pays its start. `Warmup` sends the
stack's input example to each served entity directly (or, on a route-optimized endpoint, through the
traffic split until each entity with a share answered), retrying "still starting" answers until the warmup
deadline. The rollout's parity gate asks its questions the same way (`Warmup.answer`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from serving.declared import DeclaredEntity, Expectation, Log, ReadinessError
from serving.polling import Clock, Done, Pending, PollPolicy, Sleep, WaitTimedOut, poll
from serving.workspace import Invocation, ServingClient

# Answers that mean "still starting": worth another try until the warmup deadline. 0 = no answer.
STILL_STARTING = frozenset({0, 429, 500, 502, 503, 504})
MAX_INVOCATION_SECONDS = 130.0
"""Databricks ends a request after 120 s server-side; wait a little longer for its answer."""
MAX_SENT_SHOWN = 300
"""Characters of a rejected request body an error quotes (a body may be up to 16 MB)."""


def _sent(body: Mapping[str, Any] | None, default: Mapping[str, Any] | None) -> str:
    """The body as sent (the same serialisation as `ServingClient.invoke`), shortened for an error: the
    types matter (`42` or `42.0`) when a model's signature refuses it."""
    text = json.dumps(body if body is not None else default)
    return text if len(text) <= MAX_SENT_SHOWN else f"{text[:MAX_SENT_SHOWN]}... ({len(text)} characters)"


@dataclass
class EntityWarmup:
    """How warming one served entity went."""

    version: str
    attempts: int
    first_request_seconds: float
    """From the first warmup request until the first successful answer: what a cold start costs."""
    warm_latency_ms: float
    """Latency of a request once the entity answered: what callers see from now on."""


class Warmup:
    """Sends one endpoint's served entities requests until they answer. One instance per verification."""

    def __init__(
        self,
        client: ServingClient,
        expectation: Expectation,
        policy: PollPolicy,
        log: Log,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ):
        self.client = client
        self.expectation = expectation
        self.policy = policy
        self.log = log
        self.clock = clock
        self.sleep = sleep

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
        expectation = self.expectation
        pending = {
            entity.name: entity for entity in expectation.served_entities if expectation.traffic.get(entity.name)
        }
        warmups: dict[str, EntityWarmup] = {}
        started, attempts = self.clock(), 0
        answer = None
        # Each request reaches an entity with its share's probability: 20 tries per entity and percent of
        # the smallest share makes missing one vanishingly unlikely.
        smallest = min((expectation.traffic[name] for name in pending), default=100)
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
                    f"{expectation.endpoint}: {entity.name} answered through the route after {attempts} request(s)"
                )
        if pending:
            raise ReadinessError(
                f"endpoint {expectation.endpoint}: {', '.join(sorted(pending))} never answered through the "
                f"route-optimized URL in {attempts} requests, although the traffic split gives them a share"
            )
        if answer is None:
            answer = self.answer(None, deadline)[0]
        route = {
            "served_model": answer.served_model,
            "latency_ms": round(answer.seconds * 1000, 1),
            "not_warmed": sorted(e.name for e in expectation.served_entities if e.name not in warmups),
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
        endpoint = self.expectation.endpoint
        target = f"served entity {served_entity}" if served_entity else "the endpoint's traffic split"

        def look(_attempt: int) -> Done[Invocation] | Pending[Invocation]:
            answer = self.invoke(served_entity, deadline, body)
            if answer.ok:
                return Done(answer)
            if answer.status not in STILL_STARTING:
                raise ReadinessError(
                    f"endpoint {endpoint}: {target} rejected {what} with "
                    f"HTTP {answer.status}: {answer.body}. Sent: {_sent(body, self.expectation.input_example)}. "
                    f"Fix {fix} (or the model's signature) so that it matches what callers send."
                )
            return Pending(answer)

        def backoff(attempt: int, answer: Invocation) -> float:
            return self.policy.delay(attempt, answer.retry_after)

        try:
            polled = poll(
                look,
                awaited=f"{target} answering",
                deadline=deadline,
                backoff=backoff,
                clock=self.clock,
                sleep=self.sleep,
            )
        except WaitTimedOut as timeout:
            last: Invocation = timeout.last
            status = f"HTTP {last.status}" if last.status else f"no answer ({last.body})"
            raise ReadinessError(
                f"endpoint {endpoint}: {target} did not answer {what} "
                f"within the warmup timeout after {timeout.attempts} attempts; last answer: {status}"
            ) from None
        return polled.value, polled.attempts
