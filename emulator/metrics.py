"""The metrics export (`GET /api/2.0/serving-endpoints/{name}/metrics`): Prometheus text (version 0.0.4)
of per-minute values, as Databricks exports them.

Names and types follow Databricks' docs ("Track and export serving endpoint health metrics to Prometheus
and Datadog": the Datadog OpenMetrics config types every one of them a gauge except the latency
histogram; Datadog's Databricks integration describes each as "during the last minute"):

    cpu_usage_percentage                  gauge      average CPU use over the last minute, %
    mem_usage_percentage                  gauge      average memory use over the last minute, %
    provisioned_concurrent_requests_total gauge      provisioned concurrency during the last minute
    request_count_total                   gauge      requests answered during the last minute
    request_4xx_count_total               gauge      of them with a 4xx status
    request_5xx_count_total               gauge      of them with a 5xx status
    request_latency_ms                    histogram  latency of the last minute's requests (_bucket, _sum,
                                                     _count); Databricks shows its P50 and P99

None of them is a cumulative counter: a value covers the last `metrics_window_seconds` (a minute by
default; a trailing window at the moment of the scrape), so a scrape is read as it is, never as the
difference of two scrapes. Requests older than the window drop out.

One series per served entity, labelled `endpoint_name` and `served_entity_name` (every entity of the
active config appears, with zeros before its first request; an entity of an older config appears while
it has requests in the window). Requests refused before a served entity was chosen (bad input, an AI
Gateway rate limit, an endpoint with no config) are in no series. Choices where Databricks does not
document the values: the label names; CPU is the share of the entity's provisioned concurrency kept busy
over the window (plus 1.5% idle), memory a fixed 7% while the entity is up; provisioned concurrency is
the low end of the entity's range (Small 4, Medium 8, Large 16, or min_provisioned_concurrency) and 0
while scaled to zero; nothing here autoscales.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000)
IDLE_CPU_PERCENT = 1.5
UP_MEMORY_PERCENT = 7.0
CONCURRENCY_OF_SIZE = {"Small": 4, "Medium": 8, "Large": 16}


@dataclass(frozen=True)
class Observation:
    at: float  # time.monotonic()
    status: int
    latency_ms: float


@dataclass(frozen=True)
class EntityCapacity:
    """What the gauges of one served entity depend on besides its requests."""

    name: str
    provisioned_concurrency: int  # 0 while scaled to zero


def capacity_of(
    name: str,
    workload_size: str | None,
    min_concurrency: int | None,
    scaled_to_zero: bool,
) -> EntityCapacity:
    if scaled_to_zero:
        return EntityCapacity(name, 0)
    concurrency = CONCURRENCY_OF_SIZE.get(workload_size or "", 0) or (min_concurrency or 0) or 4
    return EntityCapacity(name, concurrency)


@dataclass
class EndpointMetrics:
    window_seconds: float = 60.0
    entities: dict[str, deque[Observation]] = field(default_factory=dict)

    def observe(self, entity: str | None, status: int, latency_ms: float) -> None:
        if entity is None:
            return
        now = time.monotonic()
        observations = self.entities.setdefault(entity, deque())
        observations.append(Observation(now, status, latency_ms))
        self._forget_before(observations, now - self.window_seconds)

    def exposition(self, endpoint_name: str, active: list[EntityCapacity]) -> str:
        now = time.monotonic()
        for observations in self.entities.values():
            self._forget_before(observations, now - self.window_seconds)
        series = {c.name: (c, list(self.entities.get(c.name, ()))) for c in active}
        for name, observations in self.entities.items():
            if name not in series and observations:
                series[name] = (EntityCapacity(name, 0), list(observations))
        labelled = {_labels(endpoint_name, name): value for name, value in series.items()}
        lines: list[str] = []
        for metric, help_text, value_of in (
            ("cpu_usage_percentage", "Average CPU usage across replicas during the last minute (%)", self._cpu),
            (
                "mem_usage_percentage",
                "Average memory usage across replicas during the last minute (%)",
                lambda c, obs: UP_MEMORY_PERCENT if c.provisioned_concurrency else 0.0,
            ),
            (
                "provisioned_concurrent_requests_total",
                "Provisioned concurrency during the last minute",
                lambda c, obs: c.provisioned_concurrency,
            ),
            ("request_count_total", "Requests during the last minute", lambda c, obs: len(obs)),
            (
                "request_4xx_count_total",
                "4xx errors during the last minute",
                lambda c, obs: sum(1 for o in obs if 400 <= o.status < 500),
            ),
            (
                "request_5xx_count_total",
                "5xx errors during the last minute",
                lambda c, obs: sum(1 for o in obs if o.status >= 500),
            ),
        ):
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
            lines += [f"{metric}{{{labels}}} {_number(value_of(c, obs))}" for labels, (c, obs) in labelled.items()]
        lines += _histogram(labelled)
        return "\n".join(lines) + "\n"

    def _cpu(self, capacity: EntityCapacity, observations: list[Observation]) -> float:
        if not capacity.provisioned_concurrency:
            return 0.0
        busy_ms = sum(o.latency_ms for o in observations)
        share = busy_ms / (self.window_seconds * 1000 * capacity.provisioned_concurrency) * 100
        return round(min(100.0, IDLE_CPU_PERCENT + share), 3)

    @staticmethod
    def _forget_before(observations: deque[Observation], cutoff: float) -> None:
        while observations and observations[0].at < cutoff:
            observations.popleft()


def _labels(endpoint: str, entity: str) -> str:
    pairs = [("endpoint_name", endpoint), ("served_entity_name", entity)]
    return ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _histogram(series: dict[str, tuple[EntityCapacity, list[Observation]]]) -> list[str]:
    name = "request_latency_ms"
    lines = [f"# HELP {name} Request latency in milliseconds during the last minute", f"# TYPE {name} histogram"]
    for labels, (_, observations) in series.items():
        counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)  # the last slot is +Inf
        for observation in observations:
            counts[bisect_left(LATENCY_BUCKETS_MS, observation.latency_ms)] += 1
        cumulative = 0
        for bound, count in zip((*map(str, LATENCY_BUCKETS_MS), "+Inf"), counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {cumulative}')
        lines.append(f"{name}_sum{{{labels}}} {round(sum(o.latency_ms for o in observations), 3)}")
        lines.append(f"{name}_count{{{labels}}} {len(observations)}")
    return lines
