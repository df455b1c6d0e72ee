"""Staged traffic shifting with parity and health gates, and automatic rollback.

The declared traffic is the target; a rollout is how an endpoint gets there safely. Moving the
candidate's share up passes through every configured step below the target: each step is one config
update, waited for until the endpoint serves it, then baked while probes go straight to the candidate,
and judged by the health gate. Before any traffic moves up, the parity gate compares the candidate's
predictions with the stable's. A failed gate puts the candidate's share back on the stable entity in
one config update, waits until that is live, and fails with a report. Moving the share down (a rollback
by config) happens at once.

Every run starts from what the endpoint serves now, so a rollout that was interrupted (the process
killed mid-step) is resumed: the share found live is baked and judged again, then the next steps follow.

Pure logic over `ServingClient`, like serving.verification; the provider plugin runs it (provider.implementations).

Cancellation: the `sleep` a caller passes in raises `serving.verification.Cancelled` once the caller is
told to stop (Ctrl-C); a zero sleep before every config update makes each update a cancellation point,
so a stopped rollout never changes traffic again, and `restore` puts the last good split back.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from serving.gates import (  # the measurement maths; importable from here as before
    StepReport,
    difference,
    entity_metrics,
    histogram_quantile,
    judge_step,
    percentile,
    predictions,
)
from serving.model import ServedEntity, ServingEndpoint
from serving.verification import (
    DeclaredEntity,
    Expectation,
    Log,
    PollPolicy,
    Readiness,
    ReadinessError,
    routes_of,
    serving_summary,
)
from serving.workspace import Invocation, ServingApiError, ServingClient

__all__ = [  # the gates' names stay importable from here, where callers found them before serving.gates
    "Rollout",
    "RolloutError",
    "RolloutPlan",
    "RolloutReport",
    "StepReport",
    "difference",
    "entity_metrics",
    "histogram_quantile",
    "percentile",
    "predictions",
]

ROUTE_ATTEMPTS = 200
"""Requests through a route-optimized endpoint's split to reach one entity, at most."""


class RolloutError(Exception):
    """A gate failed (traffic is back on the stable entity) or the rollout could not proceed."""

    def __init__(self, message: str, report: dict[str, Any] | None = None):
        super().__init__(message)
        self.report = report or {}


@dataclass(frozen=True)
class RolloutPlan:
    """Everything a rollout needs, from the stack config (see `components.plugin_resources.rollout_inputs`)."""

    endpoint: str
    served_entities: tuple[Mapping[str, Any], ...]
    """The declared served entities, as the serving API takes them."""
    target: Mapping[str, int]
    """The declared traffic: where the rollout ends."""
    stable: str
    candidate: str
    steps: tuple[int, ...]
    bake_seconds: float
    examples: tuple[Mapping[str, Any], ...]
    tolerance: float = 1e-6
    expected_predictions: tuple[Any, ...] | None = None
    max_error_rate: float = 0.01
    max_p95_latency_ms: float = 1000.0
    min_requests: int = 20
    probe_interval_seconds: float = 1.0
    update_timeout_seconds: float = 2100.0
    route_optimized: bool = False
    """Reached only through its traffic split (its own URL, OAuth): parity runs at the first step."""

    @property
    def target_share(self) -> int:
        return int(self.target[self.candidate])

    def split(self, candidate_share: int) -> dict[str, int]:
        """The routes with the candidate at `candidate_share`: other entities keep their declared share,
        the stable entity takes what the candidate does not."""
        routes = {name: int(share) for name, share in self.target.items()}
        pool = routes[self.stable] + routes[self.candidate]
        routes[self.candidate] = candidate_share
        routes[self.stable] = pool - candidate_share
        return routes

    def walk(self, current: int) -> list[int]:
        """The candidate shares to pass through from `current` to the target."""
        target = self.target_share
        if target > current:
            return [step for step in self.steps if current < step < target] + [target]
        if target < current:
            return [target]
        return []

    def describe(self, current: int | None = None) -> list[str]:
        """The plan in words, for `pulumi preview` and the offline review."""
        start = current or 0
        if current is None:
            # A preview cannot know the live share: the walk starts from wherever the candidate is then.
            lines = [
                f"{self.candidate} to {self.target_share}% of {self.endpoint}; steps at or below its live "
                "share are skipped"
            ]
        else:
            lines = [f"{self.candidate} from {start}% to {self.target_share}% of {self.endpoint}"]
        walk = self.walk(start)
        if not walk:
            return [*lines, "nothing to move"]
        if walk[0] < start:
            return [*lines, f"{self.candidate} to {walk[0]}% in one config update (moving down is not gated)"]
        lines.append(
            f"parity: {len(self.examples)} example(s) to {self.stable} and {self.candidate}, "
            + ("predictions as expected" if self.expected_predictions is not None else "predictions agree")
            + f" within {self.tolerance:g}"
        )
        for share in walk:
            lines.append(
                f"{share}% to {self.candidate} for {self.bake_seconds:g}s; health: error rate <= "
                f"{self.max_error_rate:g}, p95 <= {self.max_p95_latency_ms:g}ms, >= {self.min_requests} requests"
            )
        lines.append(f"a failed gate puts {self.candidate}'s share back on {self.stable} in one config update")
        return lines


@dataclass
class RolloutReport:
    """What a rollout did: the readiness resource's sibling outputs."""

    endpoint: str
    candidate: str
    stable: str
    started_from: int
    """The candidate's share found live when this run began (a resumed rollout starts above 0)."""
    target: int
    steps: list[StepReport] = field(default_factory=list)
    parity: dict[str, Any] = field(default_factory=dict)
    last_good_split: dict[str, int] = field(default_factory=dict)
    rolled_back: bool = False
    seconds: float = 0.0

    def outputs(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# The rollout


class Rollout:
    """Moves one endpoint's traffic to its declared split through the plan's steps and gates."""

    def __init__(
        self,
        client: ServingClient,
        plan: RolloutPlan,
        policy: PollPolicy | None = None,
        log: Log = lambda line: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        verified_split: Mapping[str, int] | None = None,
    ):
        """`verified_split`: the split the last successful run left and judged (the state's `last_good_split`);
        None when there was none (a first run)."""
        self.client = client
        self.plan = plan
        self.verified_split = dict(verified_split) if verified_split is not None else None
        self.policy = policy or PollPolicy()
        self.log = log
        self.clock = clock
        self.sleep = sleep
        self.report: RolloutReport | None = None
        """The run's report so far: `last_good_split` is where `restore` puts traffic back."""

    def _readiness(self, split: Mapping[str, int]) -> Readiness:
        declared = tuple(
            DeclaredEntity(
                name=entity["name"],
                entity_name=entity["entity_name"],
                entity_version=str(entity["entity_version"]),
                scale_to_zero=bool(entity.get("scale_to_zero_enabled", False)),
            )
            for entity in self.plan.served_entities
        )
        expectation = Expectation(
            endpoint=self.plan.endpoint,
            served_entities=declared,
            traffic=dict(split),
            timeout_seconds=self.plan.update_timeout_seconds,
            input_example=self.plan.examples[0],
            warmup_timeout_seconds=self.plan.update_timeout_seconds,
            route_optimized=self.plan.route_optimized,
        )
        return Readiness(self.client, expectation, self.policy, self.log, self.clock, self.sleep)

    def _say(self, line: str) -> None:
        self.log(f"{self.plan.endpoint}: rollout: {line}")

    # --- config updates ----------------------------------------------------------------------------

    def _live(self) -> ServingEndpoint:
        endpoint = self.client.get_serving_endpoint(self.plan.endpoint)
        if endpoint is None:
            raise RolloutError(f"endpoint {self.plan.endpoint} does not exist in the workspace")
        return endpoint

    def _config(self, split: Mapping[str, int]) -> dict[str, Any]:
        """A config update's body: the declared entities with `split`. Inference tables belong to the AI
        Gateway, not the config: the legacy auto_capture_config is never sent."""
        return {
            "served_entities": [dict(entity) for entity in self.plan.served_entities],
            "traffic_config": {
                "routes": [{"served_entity_name": name, "traffic_percentage": share} for name, share in split.items()]
            },
        }

    def _apply(self, split: Mapping[str, int]) -> None:
        """One config update to the declared entities and `split`, waited for until it serves."""
        self.sleep(0)  # a cancellation point: a stopped rollout changes nothing more
        self.client.update_config(self.plan.endpoint, self._config(split))
        readiness = self._readiness(split)
        readiness.wait_until_ready(self.clock() + self.plan.update_timeout_seconds)

    def _settle(self) -> ServingEndpoint:
        """Wait for any update already running (an interrupted run may have left one), then read the endpoint."""
        deadline = self.clock() + self.plan.update_timeout_seconds
        attempt = 0
        while True:
            endpoint = self._live()
            if not endpoint.state.updating:
                return endpoint
            attempt += 1
            if self.clock() > deadline:
                raise RolloutError(f"endpoint {self.plan.endpoint} is still updating; try again when it is not")
            self.sleep(self.policy.delay(attempt))

    # --- gates -------------------------------------------------------------------------------------

    def _answer_of(
        self, readiness: Readiness, entity: str, example: Mapping[str, Any], deadline: float, what: str
    ) -> Invocation:
        """`entity`'s answer to `example`: asked directly, or on a route-optimized endpoint through the
        traffic split until `entity` is the one that answers (bounded)."""
        if not self.plan.route_optimized:
            return readiness.answer(entity, deadline, example, what=what, fix="rollout.parity.examples")[0]
        for _ in range(ROUTE_ATTEMPTS):
            answer = readiness.answer(None, deadline, example, what=what, fix="rollout.parity.examples")[0]
            if answer.served_model == entity:
                return answer
        raise ReadinessError(
            f"endpoint {self.plan.endpoint}: {entity} did not answer {what} through the "
            f"route-optimized URL in {ROUTE_ATTEMPTS} requests"
        )

    def parity(self, moved: str = "before any traffic moved") -> dict[str, Any]:
        """The candidate and the stable (or the expected predictions) agree on every example."""
        readiness = self._readiness(self.plan.split(0))
        deadline = self.clock() + self.plan.update_timeout_seconds
        worst = 0.0
        for index, example in enumerate(self.plan.examples):
            what = f"parity example {index + 1}"
            try:
                candidate = self._answer_of(readiness, self.plan.candidate, example, deadline, what)
                if self.plan.expected_predictions is not None:
                    reference, against = self.plan.expected_predictions[index], "the expected predictions"
                    reference_values = predictions(json.dumps({"predictions": reference}))
                else:
                    stable = self._answer_of(readiness, self.plan.stable, example, deadline, what)
                    against, reference_values = self.plan.stable, predictions(stable.body)
            except ReadinessError as error:
                raise RolloutError(
                    f"endpoint {self.plan.endpoint}: parity gate failed {moved}: {error}",
                    {"gate": "parity", "example": index + 1},
                ) from None
            candidate_values = predictions(candidate.body)
            gap = difference(candidate_values, reference_values)
            worst = max(worst, gap)
            if gap > self.plan.tolerance:
                shown = "different shapes" if math.isinf(gap) else f"differ by up to {gap:g}"
                raise RolloutError(
                    f"endpoint {self.plan.endpoint}: parity gate failed {moved}: on example "
                    f"{index + 1}, {self.plan.candidate} predicts {candidate_values[:10]} and {against} "
                    f"{reference_values[:10]} ({shown}; tolerance {self.plan.tolerance:g})",
                    {"gate": "parity", "example": index + 1, "difference": gap, "tolerance": self.plan.tolerance},
                )
        self._say(f"parity passed on {len(self.plan.examples)} example(s), largest difference {worst:g}")
        return {"examples": len(self.plan.examples), "max_difference": worst, "verdict": "passed"}

    def bake(self, share: int) -> StepReport:
        """Probe the candidate for the bake time (and until enough requests were seen), then judge it."""
        plan = self.plan
        started = self.clock()
        samples: list[tuple[int, float]] = []
        index = 0
        sent = 0
        while True:
            answer = self.client.invoke(
                plan.endpoint,
                plan.examples[index % len(plan.examples)],
                # A route-optimized endpoint is probed through its split: the candidate's answers count.
                served_entity=None if plan.route_optimized else plan.candidate,
                timeout=max(1.0, min(130.0, plan.max_p95_latency_ms / 1000 * 4)),
                route_optimized=plan.route_optimized,
            )
            index += 1
            sent += 1
            # A failure that names no entity is counted against the candidate: the stricter reading.
            if answer.served_model in (plan.candidate, None) or not plan.route_optimized:
                samples.append((answer.status, answer.seconds * 1000))
            if not samples:
                if sent >= ROUTE_ATTEMPTS:
                    raise RolloutError(
                        f"endpoint {plan.endpoint}: {plan.candidate} answered none of {sent} probes "
                        f"through the route-optimized URL at {share}%"
                    )
                continue
            errors = sum(1 for status, _ in samples if status != 200)
            enough = len(samples) >= plan.min_requests
            if enough and errors / len(samples) > plan.max_error_rate:
                break  # already over the threshold: no need to bake on
            remaining = plan.bake_seconds - (self.clock() - started)
            if enough and remaining <= 0:
                break
            # Once enough requests were seen, the step ends when its bake time does, not a probe later.
            self.sleep(min(plan.probe_interval_seconds, remaining) if enough else plan.probe_interval_seconds)
        return self._judge(share, started, samples, self._metrics())

    def _metrics(self) -> dict[str, Any] | None:
        try:
            return entity_metrics(self.client.metrics(self.plan.endpoint), self.plan.candidate)
        except ServingApiError:
            return None  # the workspace does not export metrics: probes alone decide

    def _judge(
        self, share: int, started: float, samples: list[tuple[int, float]], metrics: dict[str, Any] | None
    ) -> StepReport:
        """The health gate's verdict on one step (serving.gates.judge_step)."""
        return judge_step(self.plan, share, round(self.clock() - started, 3), samples, metrics)

    # --- the run -----------------------------------------------------------------------------------

    def run(self) -> RolloutReport:
        plan = self.plan
        started = self.clock()
        live = self._settle()
        active = live.config
        live_split = routes_of(active)
        current = live_split.get(plan.candidate, 0)
        report = RolloutReport(
            plan.endpoint, plan.candidate, plan.stable, current, plan.target_share, last_good_split=dict(live_split)
        )
        self.report = report
        if current:
            self._say(f"found {plan.candidate} live at {current}% ({serving_summary(active)})")

        # The declared entities first, at the share the candidate has now: a new candidate starts at 0%.
        declared = {entity["name"]: ServedEntity.from_dict(entity).config_key() for entity in plan.served_entities}
        served = {entity.name: entity.config_key() for entity in active.served_entities} if active else {}
        if declared != served or live_split != plan.split(current):
            self._say(f"applying the declared served entities with {plan.candidate} at {current}%")
            self._apply(plan.split(current))
        report.last_good_split = plan.split(current)

        walk = plan.walk(current)
        if not walk and current and live_split != self.verified_split:
            # At the target, but no gate judged this split: an earlier run was stopped and the update it had
            # started landed afterwards (or traffic was moved outside Pulumi). Judge it before calling it done.
            self._say(f"{plan.candidate} is at its declared {current}%, a split no gate has judged: judging it")
            self.judge(report, current)
        elif not walk:
            self._say(f"{plan.candidate} is at its declared {current}%: nothing to move")
        elif walk[0] < current:
            self._say(f"moving {plan.candidate} down to {walk[0]}% in one config update")
            self._apply(plan.split(walk[0]))
            report.last_good_split = plan.split(walk[0])
        else:
            # Parity retries "still starting" answers, so it also carries a cold candidate through its start.
            # A route-optimized endpoint reaches the candidate only through its split: there parity waits
            # for the first step, and a failure puts all traffic back on the stable entity.
            deferred = plan.route_optimized and not current
            if not deferred:
                report.parity = self.parity()
            shares = ([current] if current else []) + walk  # a resumed share is judged again first
            for share in shares:
                if share != current:
                    self._say(f"{share}% to {plan.candidate}")
                    self._apply(plan.split(share))
                if deferred:
                    deferred = False
                    try:
                        report.parity = self.parity(moved=f"at the first step ({share}%)")
                    except RolloutError as error:
                        self._apply(plan.split(0))
                        raise RolloutError(f"{error}. All traffic is back on {plan.stable}.", error.report) from None
                self.judge(report, share)
                report.last_good_split = plan.split(share)
        report.seconds = round(self.clock() - started, 3)
        return report

    def judge(self, report: RolloutReport, share: int) -> None:
        """Bake the candidate at `share` and judge it; a failed gate rolls back (and raises)."""
        step = self.bake(share)
        report.steps.append(step)
        self._say(
            f"{share}%: {step.verdict} ({step.error_rate:.2%} errors, p95 {step.p95_latency_ms:.0f}ms, "
            f"{step.requests} requests)"
        )
        if step.verdict == "failed":
            self.rollback(report, step)

    def rollback(self, report: RolloutReport, step: StepReport) -> None:
        """Put the candidate's share back on the stable entity, wait until that serves, and fail."""
        plan = self.plan
        tripped = self.clock()
        self._say(f"health gate failed at {step.share}%: {step.reason}; rolling back to {plan.stable}")
        self._apply(plan.split(0))
        report.rolled_back = True
        report.last_good_split = plan.split(0)
        samples = ", ".join(f"{sample['status']}/{sample['latency_ms']:.0f}ms" for sample in step.samples)
        serving = self._live().serving()
        raise RolloutError(
            f"endpoint {plan.endpoint}: rollout of {plan.candidate} stopped at step {step.share}%: health gate "
            f"failed: {step.reason}; tripped by the {step.tripped_by} (sources: {', '.join(step.sources)}; last "
            f"samples: {samples}). All traffic "
            f"is back on {plan.stable}, serving {serving}, {self.clock() - tripped:.1f}s after the gate tripped.",
            report.outputs(),
        )

    def restore(self, deadline: float, sleep: Callable[[float], None] = time.sleep) -> str:
        """After a stop: put the last good split back in one config update and confirm it serves.

        Runs once the rollout's own thread has stopped (so nothing else changes the config), with a sleep
        of its own (the rollout's raises once stopped). An update still running is waited out first:
        Databricks refuses a config update during another. Returns what the endpoint serves, in words.
        """
        report = self.report
        if report is None or not report.last_good_split:
            return "traffic was not moved"
        good = dict(report.last_good_split)
        attempt = 0
        while True:
            endpoint = self._live()
            updating = endpoint.state.updating
            if not updating and endpoint.traffic == good:
                return f"traffic is on the last good split: {endpoint.serving()}"
            if not updating:
                break
            attempt += 1
            if self.clock() > deadline:
                landing = routes_of(endpoint.pending_config)
                return (
                    f"an update was still running when the restore had to give up; the endpoint serves "
                    f"{endpoint.serving()}, the last good split is {good}. That update lands later"
                    + (f" and puts traffic at {landing}" if landing else "")
                    + ", a split no gate has judged: the next `pulumi up` judges it before moving on"
                )
            sleep(self.policy.delay(attempt))
        self._say(f"stopped: putting the last good split back ({good})")
        self.client.update_config(self.plan.endpoint, self._config(good))
        attempt = 0
        while True:
            endpoint = self._live()
            if not endpoint.state.updating and endpoint.traffic == good:
                return f"traffic is back on the last good split: {endpoint.serving()}"
            attempt += 1
            if self.clock() > deadline:
                return (
                    f"the last good split {good} was requested and is still being applied; the endpoint "
                    f"serves {endpoint.serving()}"
                )
            sleep(self.policy.delay(attempt))
