"""Faults a test or benchmark injects through the admin API.

A fault targets an endpoint, or one served entity of it (`served_entity=None` means the whole
endpoint). Bursts and deployment failures are used up; latency and error rates stay until cleared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

Target = tuple[str, "str | None"]  # (endpoint name, served entity name or None)
V = TypeVar("V")


@dataclass
class Burst:
    remaining: int
    status_code: int
    retry_after_seconds: int | None


@dataclass
class ErrorRate:
    """Deterministic: request n (1-based) fails when floor(n*rate) > floor((n-1)*rate), so any run of
    requests fails in the given proportion (rate 0.25 fails every 4th request)."""

    rate: float
    status_code: int
    seen: int = 0

    def next_fails(self) -> bool:
        before = math.floor(self.seen * self.rate + 1e-9)
        self.seen += 1
        return math.floor(self.seen * self.rate + 1e-9) > before


@dataclass
class NotReadyAfterUpdate:
    seconds: float | None  # None: until cleared
    served_entity: str | None  # None: every entity the update deployed


@dataclass
class Faults:
    fail_next_deployment: dict[Target, str] = field(default_factory=dict)
    bursts: dict[Target, Burst] = field(default_factory=dict)
    latency: dict[Target, float] = field(default_factory=dict)
    error_rates: dict[Target, ErrorRate] = field(default_factory=dict)
    stuck_next_update: set[str] = field(default_factory=set)
    not_ready_after_update: dict[str, NotReadyAfterUpdate] = field(default_factory=dict)

    def take_deployment_failures(self, endpoint: str) -> dict[str | None, str]:
        """Failures the next deployment of `endpoint` must show: {entity or None: message}."""
        taken = {t: m for t, m in self.fail_next_deployment.items() if t[0] == endpoint}
        for target in taken:
            del self.fail_next_deployment[target]
        return {entity: message for (_, entity), message in taken.items()}

    def take_stuck(self, endpoint: str) -> bool:
        if endpoint in self.stuck_next_update:
            self.stuck_next_update.discard(endpoint)
            return True
        return False

    def take_not_ready(self, endpoint: str) -> NotReadyAfterUpdate | None:
        return self.not_ready_after_update.pop(endpoint, None)

    def take_burst(self, endpoint: str, entity: str) -> Burst | None:
        """The burst answering this request, if any: the entity's own first, then the endpoint's."""
        for target in ((endpoint, entity), (endpoint, None)):
            burst = self.bursts.get(target)
            if burst is not None:
                burst.remaining -= 1
                if burst.remaining <= 0:
                    del self.bursts[target]
                return burst
        return None

    def added_latency(self, endpoint: str, entity: str) -> float:
        return self.latency.get((endpoint, None), 0.0) + self.latency.get((endpoint, entity), 0.0)

    def injected_error(self, endpoint: str, entity: str) -> int | None:
        """The status this request must fail with under an error rate, or None."""
        for target in ((endpoint, entity), (endpoint, None)):
            rate = self.error_rates.get(target)
            if rate is not None and rate.next_fails():
                return rate.status_code
        return None

    def clear(self, endpoint: str | None = None) -> None:
        """Forget every fault (of one endpoint); in-flight effects are ended by the workspace."""
        for table in (self.fail_next_deployment, self.bursts, self.latency, self.error_rates):
            for target in [t for t in table if endpoint is None or t[0] == endpoint]:
                del table[target]
        for name in [n for n in self.stuck_next_update if endpoint is None or n == endpoint]:
            self.stuck_next_update.discard(name)
        for name in [n for n in self.not_ready_after_update if endpoint is None or n == endpoint]:
            del self.not_ready_after_update[name]

    def as_json(self) -> dict[str, Any]:
        def keyed(table: Mapping[Target, V], describe: Callable[[V], dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                {"endpoint": endpoint, "served_entity": entity, **describe(value)}
                for (endpoint, entity), value in table.items()
            ]

        return {
            "fail_next_deployment": keyed(self.fail_next_deployment, lambda m: {"message": m}),
            "bursts": keyed(self.bursts, asdict),
            "latency": keyed(self.latency, lambda s: {"seconds": s}),
            "error_rates": keyed(self.error_rates, asdict),
            "stuck_next_update": sorted(self.stuck_next_update),
            "not_ready_after_update": {k: asdict(v) for k, v in self.not_ready_after_update.items()},
        }
