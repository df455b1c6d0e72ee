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
This module is the walk (which step, in what order, what a failure does); serving.rollout_plan holds the plan
and the report, serving.rollout_steps carries out a step (config updates, parity, bake), serving.gates judges.

Cancellation: the `sleep` a caller passes in raises `serving.polling.Cancelled` once the caller is
told to stop (Ctrl-C); every wait pauses through it (serving.polling), and a zero sleep before every config
update makes each update a cancellation point, so a stopped rollout never changes traffic again, and
`restore` puts the last good split back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
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
from serving.model import ServedEntity
from serving.polling import DEFAULT_POLICY, Clock, PollPolicy, Sleep
from serving.rollout_plan import RolloutError, RolloutPlan, RolloutReport
from serving.rollout_steps import ROUTE_ATTEMPTS, SplitUpdates, StepProbes
from serving.verification import Log, routes_of, serving_summary
from serving.workspace import ServingClient

__all__ = [  # the names callers found here before the plan, the steps and the gates had modules of their own
    "ROUTE_ATTEMPTS",
    "Rollout",
    "RolloutError",
    "RolloutPlan",
    "RolloutReport",
    "StepReport",
    "difference",
    "entity_metrics",
    "histogram_quantile",
    "judge_step",
    "percentile",
    "predictions",
]


class Rollout:
    """Moves one endpoint's traffic to its declared split through the plan's steps and gates."""

    def __init__(
        self,
        client: ServingClient,
        plan: RolloutPlan,
        policy: PollPolicy | None = None,
        log: Log = lambda line: None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        verified_split: Mapping[str, int] | None = None,
    ):
        """`verified_split`: the split the last successful run left and judged (the state's `last_good_split`);
        None when there was none (a first run)."""
        self.client = client
        self.plan = plan
        self.verified_split = dict(verified_split) if verified_split is not None else None
        self.policy = policy or DEFAULT_POLICY
        self.log = log
        self.clock = clock
        self.sleep = sleep
        self.updates = SplitUpdates(client, plan, self.policy, log, clock, sleep)
        self.probes = StepProbes(client, plan, self.policy, log, clock, sleep)
        self.report: RolloutReport | None = None
        """The run's report so far: `last_good_split` is where `restore` puts traffic back."""

    def _say(self, line: str) -> None:
        self.log(f"{self.plan.endpoint}: rollout: {line}")

    def _judge(
        self, share: int, started: float, samples: list[tuple[int, float]], metrics: dict[str, Any] | None
    ) -> StepReport:
        """The health gate's verdict on one step (serving.gates.judge_step)."""
        return self.probes.judge(share, started, samples, metrics)

    def run(self) -> RolloutReport:
        plan = self.plan
        started = self.clock()
        live = self.updates.settle()
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
            self.updates.apply(plan.split(current))
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
            self.updates.apply(plan.split(walk[0]))
            report.last_good_split = plan.split(walk[0])
        else:
            self._walk_up(report, current, walk)
        report.seconds = round(self.clock() - started, 3)
        return report

    def _walk_up(self, report: RolloutReport, current: int, walk: list[int]) -> None:
        """Move the candidate up through `walk` from `current`, gated: parity first, then each step baked and
        judged (a share found live is judged again before the next step)."""
        plan = self.plan
        # Parity retries "still starting" answers, so it also carries a cold candidate through its start.
        # A route-optimized endpoint reaches the candidate only through its split: there parity waits
        # for the first step, and a failure puts all traffic back on the stable entity.
        deferred = plan.route_optimized and not current
        if not deferred:
            report.parity = self.probes.parity("before any traffic moved")
        shares = ([current] if current else []) + walk  # a resumed share is judged again first
        for share in shares:
            if share != current:
                self._say(f"{share}% to {plan.candidate}")
                self.updates.apply(plan.split(share))
            if deferred:
                deferred = False
                try:
                    report.parity = self.probes.parity(moved=f"at the first step ({share}%)")
                except RolloutError as error:
                    self.updates.apply(plan.split(0))
                    raise RolloutError(f"{error}. All traffic is back on {plan.stable}.", error.report) from None
            self.judge(report, share)
            report.last_good_split = plan.split(share)

    def judge(self, report: RolloutReport, share: int) -> None:
        """Bake the candidate at `share` and judge it; a failed gate rolls back (and raises)."""
        step = self.probes.bake(share)
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
        self.updates.apply(plan.split(0))
        report.rolled_back = True
        report.last_good_split = plan.split(0)
        samples = ", ".join(f"{sample['status']}/{sample['latency_ms']:.0f}ms" for sample in step.samples)
        serving = self.updates.live().serving()
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
        return self.updates.restore(report.last_good_split, deadline, sleep)
