"""What a rollout is asked to do and what it reports: plain data, from the stack config to the plugin's outputs.

serving.traffic_shift walks the plan; serving.rollout_steps carries out each step; serving.gates judges it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from serving.gates import StepReport


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
