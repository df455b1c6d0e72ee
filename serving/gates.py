"""The rollout's gates: measurement maths and the health gate's verdict, apart from the orchestration.

Pure functions over what a rollout saw (probe answers, a metrics export, predictions): no client, no clock,
so each rule is tested on numbers alone. serving.traffic_shift decides when to measure; this module decides
what the measurements mean.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving.rollout_plan import RolloutPlan


def predictions(body: str) -> list[Any]:
    """The flat list of predictions in a response body."""
    value = json.loads(body)
    value = value.get("predictions", value) if isinstance(value, dict) else value

    def flat(item: Any) -> list[Any]:
        if isinstance(item, list):
            return [leaf for child in item for leaf in flat(child)]
        if isinstance(item, dict):
            return [leaf for key in sorted(item) for leaf in flat(item[key])]
        return [item]

    return flat(value)


def difference(left: Sequence[Any], right: Sequence[Any]) -> float:
    """Largest absolute difference between two prediction lists (inf when they cannot be compared)."""
    if len(left) != len(right):
        return math.inf
    worst = 0.0
    for a, b in zip(left, right, strict=True):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            worst = max(worst, abs(float(a) - float(b)))
        elif a != b:
            return math.inf
    return worst


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$")


def entity_metrics(text: str, served_entity: str) -> dict[str, Any]:
    """One served entity's values from a metrics export: gauges and the latency histogram's buckets.

    Databricks exports per-minute values (every series covers the last minute at the moment of the
    scrape), so one scrape is read as it is, never as the difference of two.
    """
    gauges: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"]))
        if labels.get("served_entity_name") != served_entity:
            continue
        name, value = match["name"], float(match["value"])
        if name == "request_latency_ms_bucket":
            bound = labels.get("le", "+Inf")
            buckets[math.inf if bound == "+Inf" else float(bound)] = value
        else:
            gauges[name] = value
    return {"gauges": gauges, "buckets": buckets}


def histogram_quantile(buckets: Mapping[float, float], fraction: float) -> float | None:
    """A quantile of the requests a (cumulative-bucket) histogram holds, interpolated within its bucket as
    Prometheus' histogram_quantile does; None when it holds no request."""
    bounds = sorted(buckets)
    counts = [buckets[b] for b in bounds]
    total = counts[-1] if counts else 0
    if total <= 0:
        return None
    rank = fraction * total
    lower, previous = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if math.isinf(bound):
                return lower
            share = (rank - previous) / (cumulative - previous) if cumulative > previous else 1.0
            return lower + (bound - lower) * share
        lower, previous = (bound if not math.isinf(bound) else lower), cumulative
    return lower


@dataclass
class StepReport:
    """One step of a rollout and the health gate's verdict on it."""

    share: int
    verdict: str  # "passed" | "failed"
    seconds: float
    requests: int
    errors: int
    error_rate: float
    p95_latency_ms: float
    sources: list[str]
    reason: str = ""
    tripped_by: str = ""
    """Which source failed the step: `probes` (our own requests) or `metrics` (the endpoint's export)."""
    observed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per source, what it saw: requests, errors, error rate, p95 (and the export's p50/p99)."""
    samples: list[dict[str, Any]] = field(default_factory=list)
    """The last probe answers (status, latency), for the report of a failed step."""


def observed_by_source(
    samples: list[tuple[int, float]], metrics: dict[str, Any] | None, min_requests: int
) -> dict[str, dict[str, Any]]:
    """Per source, what it saw: `probes` always, `metrics` once the export holds `min_requests` requests."""
    errors = sum(1 for status, _ in samples if status != 200)
    observed: dict[str, dict[str, Any]] = {
        "probes": {
            "requests": len(samples),
            "errors": errors,
            "error_rate": round(errors / len(samples), 4),
            "p95_latency_ms": round(percentile([latency for _, latency in samples], 0.95), 1),
        }
    }
    if metrics is not None:
        served = metrics["gauges"].get("request_count_total", 0.0)
        if served >= min_requests:
            failed = metrics["gauges"].get("request_5xx_count_total", 0.0)
            exported = {q: histogram_quantile(metrics["buckets"], q) for q in (0.5, 0.95, 0.99)}
            observed["metrics"] = {
                "requests": int(served),
                "errors": int(failed),
                "error_rate": round(failed / served, 4),
                "p95_latency_ms": round(exported[0.95] or 0.0, 1),
                "p50_latency_ms": round(exported[0.5] or 0.0, 1),
                "p99_latency_ms": round(exported[0.99] or 0.0, 1),
            }
    return observed


def failed_sources(plan: RolloutPlan, observed: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(source, reason) for each source over the plan's error rate or p95 limit, in the sources' order."""
    verdicts = []
    for source, seen in observed.items():
        if seen["error_rate"] > plan.max_error_rate:
            verdicts.append(
                (
                    source,
                    f"error rate {seen['error_rate']:.2%} > {plan.max_error_rate:.2%} over "
                    f"{seen['requests']} requests ({source})",
                )
            )
        elif seen["p95_latency_ms"] > plan.max_p95_latency_ms:
            verdicts.append(
                (
                    source,
                    f"p95 latency {seen['p95_latency_ms']:.0f}ms > {plan.max_p95_latency_ms:g}ms "
                    f"over {seen['requests']} requests ({source})",
                )
            )
    return verdicts


def judge_step(
    plan: RolloutPlan, share: int, seconds: float, samples: list[tuple[int, float]], metrics: dict[str, Any] | None
) -> StepReport:
    """Each source judged on its own; the step fails when either does, and the report says which.

    Probes: our own requests straight to the candidate during the bake (error rate, p95). Metrics: the
    endpoint's export at the end of the bake, per-minute values that count every request the candidate
    answered in the last minute, callers' included (5xx rate, p95 of its latency histogram; its P50/P99
    are reported). The export is judged only once it holds `min_requests` requests.
    """
    observed = observed_by_source(samples, metrics, plan.min_requests)
    verdicts = failed_sources(plan, observed)
    # The headline numbers are the worse of the sources, as before; `observed` keeps each.
    worst = max(observed.values(), key=lambda seen: (seen["error_rate"], seen["p95_latency_ms"]))
    report = StepReport(
        share=share,
        verdict="failed" if verdicts else "passed",
        seconds=seconds,
        requests=max(seen["requests"] for seen in observed.values()),
        errors=worst["errors"],
        error_rate=max(seen["error_rate"] for seen in observed.values()),
        p95_latency_ms=max(seen["p95_latency_ms"] for seen in observed.values()),
        sources=list(observed),
        samples=[{"status": status, "latency_ms": round(latency, 1)} for status, latency in samples[-10:]],
        observed=observed,
    )
    if verdicts:
        report.tripped_by, report.reason = verdicts[0]
    return report
