"""What one rollout step does to the endpoint, apart from the walk (serving.traffic_shift) that orders the steps.

`SplitUpdates`: one config update to a split, waited for until it serves; waiting out an update already
running. `StepProbes`: the parity gate's questions to the candidate and the stable, and the bake's probes,
handed to serving.gates for the verdict. Every wait goes through serving.polling, so each pause is a
cancellation point.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from serving.declared import DeclaredEntity, Expectation, Log, ReadinessError
from serving.gates import StepReport, difference, entity_metrics, judge_step, predictions
from serving.model import ServedEntity, ServingEndpoint
from serving.polling import Clock, Done, Pending, PollPolicy, Sleep, WaitTimedOut, poll
from serving.rollout_plan import RolloutError, RolloutPlan
from serving.verification import Readiness, routes_of
from serving.warmup import Warmup
from serving.workspace import Invocation, ServingApiError, ServingClient

ROUTE_ATTEMPTS = 200
"""Requests through a route-optimized endpoint's split to reach one entity, at most."""


def expectation_of(plan: RolloutPlan, split: Mapping[str, int]) -> Expectation:
    """What readiness checks after a step: the plan's served entities with `split`, within the update timeout."""
    served = [ServedEntity.from_dict(entity) for entity in plan.served_entities]
    declared = tuple(
        DeclaredEntity(entity.name, entity.entity_name or "", entity.entity_version or "", entity.scale_to_zero_enabled)
        for entity in served
    )
    return Expectation(
        endpoint=plan.endpoint,
        served_entities=declared,
        traffic=dict(split),
        timeout_seconds=plan.update_timeout_seconds,
        input_example=plan.examples[0],
        warmup_timeout_seconds=plan.update_timeout_seconds,
        route_optimized=plan.route_optimized,
    )


class SplitUpdates:
    """Config updates of one endpoint to a split of the plan's served entities, and the waits around them."""

    def __init__(
        self, client: ServingClient, plan: RolloutPlan, policy: PollPolicy, log: Log, clock: Clock, sleep: Sleep
    ):
        self.client, self.plan, self.policy, self.log, self.clock, self.sleep = client, plan, policy, log, clock, sleep

    def live(self) -> ServingEndpoint:
        endpoint = self.client.get_serving_endpoint(self.plan.endpoint)
        if endpoint is None:
            raise RolloutError(f"endpoint {self.plan.endpoint} does not exist in the workspace")
        return endpoint

    def body(self, split: Mapping[str, int]) -> dict[str, Any]:
        """A config update's body: the declared entities with `split`. Inference tables belong to the AI
        Gateway, not the config: the legacy auto_capture_config is never sent."""
        return {
            "served_entities": [dict(entity) for entity in self.plan.served_entities],
            "traffic_config": {
                "routes": [{"served_entity_name": name, "traffic_percentage": share} for name, share in split.items()]
            },
        }

    def apply(self, split: Mapping[str, int]) -> None:
        """One config update to the declared entities and `split`, waited for until it serves."""
        self.sleep(0)  # a cancellation point: a stopped rollout changes nothing more
        self.client.update_config(self.plan.endpoint, self.body(split))
        readiness = Readiness(
            self.client, expectation_of(self.plan, split), self.policy, self.log, self.clock, self.sleep
        )
        readiness.wait_until_ready(self.clock() + self.plan.update_timeout_seconds)

    def settle(self) -> ServingEndpoint:
        """Wait for any update already running (an interrupted run may have left one), then read the endpoint."""
        try:
            return self.wait_idle(self.clock() + self.plan.update_timeout_seconds, self.sleep)
        except WaitTimedOut:
            raise RolloutError(f"endpoint {self.plan.endpoint} is still updating; try again when it is not") from None

    def wait_idle(self, deadline: float, sleep: Sleep) -> ServingEndpoint:
        """The endpoint once no config update runs; `WaitTimedOut` (the last endpoint seen) at the deadline."""

        def look(_attempt: int) -> Done[ServingEndpoint] | Pending[ServingEndpoint]:
            endpoint = self.live()
            return Pending(endpoint) if endpoint.state.updating else Done(endpoint)

        awaited = f"no config update running on {self.plan.endpoint}"
        return poll(
            look, awaited=awaited, deadline=deadline, backoff=self.policy.backoff, clock=self.clock, sleep=sleep
        ).value

    def wait_serving(self, split: Mapping[str, int], deadline: float, sleep: Sleep) -> ServingEndpoint:
        """The endpoint once it serves `split`, no update running; `WaitTimedOut` (the last endpoint seen) at the
        deadline."""

        def look(_attempt: int) -> Done[ServingEndpoint] | Pending[ServingEndpoint]:
            endpoint = self.live()
            return Done(endpoint) if not endpoint.state.updating and endpoint.traffic == split else Pending(endpoint)

        awaited = f"{self.plan.endpoint} serving {dict(split)}"
        return poll(
            look, awaited=awaited, deadline=deadline, backoff=self.policy.backoff, clock=self.clock, sleep=sleep
        ).value

    def restore(self, split: Mapping[str, int], deadline: float, sleep: Sleep) -> str:
        """Put `split` back in one config update (once no other update runs) and confirm it serves, until
        `deadline`. Returns what the endpoint serves, in words."""
        good = dict(split)
        try:
            endpoint = self.wait_idle(deadline, sleep)
        except WaitTimedOut as timeout:
            running: ServingEndpoint = timeout.last
            landing = routes_of(running.pending_config)
            return (
                f"an update was still running when the restore had to give up; the endpoint serves "
                f"{running.serving()}, the last good split is {good}. That update lands later"
                + (f" and puts traffic at {landing}" if landing else "")
                + ", a split no gate has judged: the next `pulumi up` judges it before moving on"
            )
        if endpoint.traffic == good:
            return f"traffic is on the last good split: {endpoint.serving()}"
        self.log(f"{self.plan.endpoint}: rollout: stopped: putting the last good split back ({good})")
        self.client.update_config(self.plan.endpoint, self.body(good))
        try:
            endpoint = self.wait_serving(good, deadline, sleep)
        except WaitTimedOut as timeout:
            applying: ServingEndpoint = timeout.last
            return (
                f"the last good split {good} was requested and is still being applied; the endpoint "
                f"serves {applying.serving()}"
            )
        return f"traffic is back on the last good split: {endpoint.serving()}"


class StepProbes:
    """The gates' measurements of the candidate: parity answers before traffic moves, probes while a step bakes."""

    def __init__(
        self, client: ServingClient, plan: RolloutPlan, policy: PollPolicy, log: Log, clock: Clock, sleep: Sleep
    ):
        self.client, self.plan, self.policy, self.log, self.clock, self.sleep = client, plan, policy, log, clock, sleep

    def _answer_of(
        self, warmup: Warmup, entity: str, example: Mapping[str, Any], deadline: float, what: str
    ) -> Invocation:
        """`entity`'s answer to `example`: asked directly, or on a route-optimized endpoint through the
        traffic split until `entity` is the one that answers (bounded)."""
        if not self.plan.route_optimized:
            return warmup.answer(entity, deadline, example, what=what, fix="rollout.parity.examples")[0]
        for _ in range(ROUTE_ATTEMPTS):
            answer = warmup.answer(None, deadline, example, what=what, fix="rollout.parity.examples")[0]
            if answer.served_model == entity:
                return answer
        raise ReadinessError(
            f"endpoint {self.plan.endpoint}: {entity} did not answer {what} through the "
            f"route-optimized URL in {ROUTE_ATTEMPTS} requests"
        )

    def parity(self, moved: str) -> dict[str, Any]:
        """The candidate and the stable (or the expected predictions) agree on every example."""
        plan = self.plan
        warmup = Warmup(self.client, expectation_of(plan, plan.split(0)), self.policy, self.log, self.clock, self.sleep)
        deadline = self.clock() + plan.update_timeout_seconds
        worst = 0.0
        for index, example in enumerate(plan.examples):
            what = f"parity example {index + 1}"
            try:
                candidate = self._answer_of(warmup, plan.candidate, example, deadline, what)
                if plan.expected_predictions is not None:
                    reference, against = plan.expected_predictions[index], "the expected predictions"
                    reference_values = predictions(json.dumps({"predictions": reference}))
                else:
                    stable = self._answer_of(warmup, plan.stable, example, deadline, what)
                    against, reference_values = plan.stable, predictions(stable.body)
            except ReadinessError as error:
                raise RolloutError(
                    f"endpoint {plan.endpoint}: parity gate failed {moved}: {error}",
                    {"gate": "parity", "example": index + 1},
                ) from None
            candidate_values = predictions(candidate.body)
            gap = difference(candidate_values, reference_values)
            worst = max(worst, gap)
            if gap > plan.tolerance:
                shown = "different shapes" if math.isinf(gap) else f"differ by up to {gap:g}"
                raise RolloutError(
                    f"endpoint {plan.endpoint}: parity gate failed {moved}: on example "
                    f"{index + 1}, {plan.candidate} predicts {candidate_values[:10]} and {against} "
                    f"{reference_values[:10]} ({shown}; tolerance {plan.tolerance:g})",
                    {"gate": "parity", "example": index + 1, "difference": gap, "tolerance": plan.tolerance},
                )
        self.log(
            f"{plan.endpoint}: rollout: parity passed on {len(plan.examples)} example(s), largest difference {worst:g}"
        )
        return {"examples": len(plan.examples), "max_difference": worst, "verdict": "passed"}

    def bake(self, share: int) -> StepReport:
        """Probe the candidate for the bake time (and until enough requests were seen), then judge it."""
        plan = self.plan
        started = self.clock()
        samples: list[tuple[int, float]] = []

        def probe(sent: int) -> Done[None] | Pending[float]:
            """One probe; Done once the step can be judged, else Pending with the pause before the next."""
            answer = self.client.invoke(
                plan.endpoint,
                plan.examples[(sent - 1) % len(plan.examples)],
                # A route-optimized endpoint is probed through its split: the candidate's answers count.
                served_entity=None if plan.route_optimized else plan.candidate,
                timeout=max(1.0, min(130.0, plan.max_p95_latency_ms / 1000 * 4)),
                route_optimized=plan.route_optimized,
            )
            # A failure that names no entity is counted against the candidate: the stricter reading.
            if answer.served_model in (plan.candidate, None) or not plan.route_optimized:
                samples.append((answer.status, answer.seconds * 1000))
            if not samples:
                if sent >= ROUTE_ATTEMPTS:
                    raise RolloutError(
                        f"endpoint {plan.endpoint}: {plan.candidate} answered none of {sent} probes "
                        f"through the route-optimized URL at {share}%"
                    )
                return Pending(0.0)  # another entity answered: probe again at once
            errors = sum(1 for status, _ in samples if status != 200)
            enough = len(samples) >= plan.min_requests
            if enough and errors / len(samples) > plan.max_error_rate:
                return Done(None)  # already over the threshold: no need to bake on
            remaining = plan.bake_seconds - (self.clock() - started)
            if enough and remaining <= 0:
                return Done(None)
            # Once enough requests were seen, the step ends when its bake time does, not a probe later.
            return Pending(min(plan.probe_interval_seconds, remaining) if enough else plan.probe_interval_seconds)

        def pause(_sent: int, seconds: float) -> float:
            return seconds

        poll(
            probe, awaited=f"the bake of {share}%", deadline=math.inf, backoff=pause, clock=self.clock, sleep=self.sleep
        )
        return self.judge(share, started, samples, self.metrics())

    def metrics(self) -> dict[str, Any] | None:
        try:
            return entity_metrics(self.client.metrics(self.plan.endpoint), self.plan.candidate)
        except ServingApiError:
            return None  # the workspace does not export metrics: probes alone decide

    def judge(
        self, share: int, started: float, samples: list[tuple[int, float]], metrics: dict[str, Any] | None
    ) -> StepReport:
        """The health gate's verdict on one step (serving.gates.judge_step)."""
        return judge_step(self.plan, share, round(self.clock() - started, 3), samples, metrics)
