"""Serving metrics in Prometheus text exposition format (version 0.0.4).

Metric names follow what Databricks' metrics export shows (`request_count_total`,
`request_4xx_count_total`, `request_5xx_count_total`, and `request_latency_ms` as a histogram whose
buckets run from 5 ms to 600000 ms), one series per served entity (label `served_entity_name`).
Endpoint totals carry an `endpoint_` prefix rather than a missing label, so that summing the
per-entity series never double counts; they also count requests refused before any entity was
chosen (bad input, unknown served entity).

Unlike Databricks, whose export is a per-minute snapshot, the counters here are cumulative since the
endpoint was created: a health gate takes the difference between two scrapes.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000)


@dataclass
class Series:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    latency_sum_ms: float = 0.0
    # Non-cumulative counts per bucket; the last slot is +Inf.
    bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))

    def observe(self, status: int, latency_ms: float) -> None:
        self.requests += 1
        if 400 <= status < 500:
            self.errors_4xx += 1
        elif status >= 500:
            self.errors_5xx += 1
        self.latency_sum_ms += latency_ms
        self.bucket_counts[bisect_left(LATENCY_BUCKETS_MS, latency_ms)] += 1


@dataclass
class EndpointMetrics:
    endpoint: Series = field(default_factory=Series)
    entities: dict[str, Series] = field(default_factory=dict)

    def observe(self, entity: str | None, status: int, latency_ms: float) -> None:
        self.endpoint.observe(status, latency_ms)
        if entity is not None:
            self.entities.setdefault(entity, Series()).observe(status, latency_ms)

    def exposition(self, endpoint_name: str, entity_names: list[str]) -> str:
        """Every entity of the active config appears, with zeros if it has not been called."""
        entities = {name: self.entities.get(name, Series()) for name in entity_names}
        entities.update({n: s for n, s in self.entities.items() if n not in entities})
        lines: list[str] = []
        for prefix, series_by_labels in (
            ("", {_labels(endpoint_name, name): s for name, s in entities.items()}),
            ("endpoint_", {_labels(endpoint_name, None): self.endpoint}),
        ):
            lines += _counters(prefix, series_by_labels)
            lines += _histogram(prefix, series_by_labels)
        return "\n".join(lines) + "\n"


def _labels(endpoint: str, entity: str | None) -> str:
    pairs = [("endpoint_name", endpoint)] + ([("served_entity_name", entity)] if entity is not None else [])
    return ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _counters(prefix: str, series: dict[str, Series]) -> list[str]:
    lines = []
    for name, help_text, attr in (
        ("request_count_total", "Requests answered", "requests"),
        ("request_4xx_count_total", "Requests answered with a 4xx status", "errors_4xx"),
        ("request_5xx_count_total", "Requests answered with a 5xx status", "errors_5xx"),
    ):
        lines += [f"# HELP {prefix}{name} {help_text}", f"# TYPE {prefix}{name} counter"]
        lines += [f"{prefix}{name}{{{labels}}} {getattr(s, attr)}" for labels, s in series.items()]
    return lines


def _histogram(prefix: str, series: dict[str, Series]) -> list[str]:
    name = f"{prefix}request_latency_ms"
    lines = [f"# HELP {name} Request latency in milliseconds", f"# TYPE {name} histogram"]
    for labels, s in series.items():
        cumulative = 0
        for bound, count in zip((*map(str, LATENCY_BUCKETS_MS), "+Inf"), s.bucket_counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {cumulative}')
        lines.append(f"{name}_sum{{{labels}}} {round(s.latency_sum_ms, 3)}")
        lines.append(f"{name}_count{{{labels}}} {s.requests}")
    return lines
