"""Readiness and warmup (`readiness`), and the staged rollout with its gates (`rollout`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from pydantic import Field, field_validator

from components.config.limits import INPUT_FORMATS, MAX_REQUEST_BYTES
from components.config.problems import RuleProblem, StrictModel, fail


class WarmupConfig(StrictModel):
    """What readiness sends to every served entity before `pulumi up` ends."""

    input_example: dict[str, Any] | None = Field(
        default=None,
        description="A request body in a Databricks input format; no warmup request without it.",
    )
    timeout_minutes: float = Field(default=15, gt=0, le=180, description="Warmup deadline per entity.")

    @field_validator("input_example")
    @classmethod
    def _input_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        formats = [key for key in INPUT_FORMATS if key in value]
        if len(formats) != 1:
            raise fail(
                "input_format",
                "needs exactly one of {formats}, found {found}",
                formats=", ".join(INPUT_FORMATS),
                found=", ".join(formats) or "none",
            )
        unknown = set(value) - set(INPUT_FORMATS) - {"params"}
        if unknown:
            raise fail("input_format", "unknown keys {keys}", keys=", ".join(sorted(unknown)))
        if len(json.dumps(value).encode()) > MAX_REQUEST_BYTES:
            raise fail("request_size", "is larger than Databricks' 16 MB request limit")
        return value


class ReadinessConfig(StrictModel):
    """How `pulumi up` proves the endpoint serves (issue: readiness and warmup)."""

    timeout_minutes: float | None = Field(
        default=None,
        gt=0,
        le=240,
        description="Deadline for the endpoint to be READY; default from the largest workload type.",
    )
    warmup: WarmupConfig = Field(default_factory=WarmupConfig, description="Warmup settings.")


class ParityGate(StrictModel):
    """Before any traffic moves: candidate and stable answer the same examples alike."""

    examples: list[dict[str, Any]] | None = Field(
        default=None,
        description="Request bodies in a Databricks input format; default the warmup input example.",
    )
    tolerance: float = Field(default=1e-6, ge=0, description="Largest absolute difference between predictions.")
    expected_predictions: list[Any] | None = Field(
        default=None,
        description="Per example, the predictions the candidate must give (instead of the stable's).",
    )

    @field_validator("examples")
    @classmethod
    def _formats(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for example in value or []:
            WarmupConfig._input_format(example)
        if value is not None and not value:
            raise fail("examples", "give at least one example, or leave examples out")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        examples, expected = data.get("examples"), data.get("expected_predictions")
        if isinstance(examples, list) and isinstance(expected, list) and len(examples) != len(expected):
            yield RuleProblem(
                (),
                "expected_predictions",
                f"give one entry per example ({len(examples)} examples, {len(expected)} expected predictions)",
            )


class HealthGate(StrictModel):
    """At every step: the candidate's errors and latency, from probes and the endpoint's metrics."""

    max_error_rate: float = Field(default=0.01, ge=0, le=1, description="Largest share of failed requests.")
    max_p95_latency_ms: float = Field(default=1000, gt=0, description="Largest 95th percentile latency.")
    min_requests: int = Field(default=20, ge=1, description="Observations needed before a verdict.")
    probe_interval_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Time between probe requests to the candidate."
    )


class RolloutConfig(StrictModel):
    """Staged traffic shifting from a stable to a candidate served entity, with gates and rollback."""

    stable: str = Field(description="Served entity that takes traffic back when a gate fails.")
    candidate: str = Field(description="Served entity whose share moves to its declared traffic.")
    steps: list[int] = Field(min_length=1, description="Candidate shares to pass through, e.g. 10, 50, 100.")
    bake_minutes: float = Field(default=10, ge=0, le=240, description="Time at each step before it is judged.")
    parity: ParityGate = Field(default_factory=ParityGate, description="The parity gate.")
    health: HealthGate = Field(default_factory=HealthGate, description="The health gate.")

    @field_validator("steps")
    @classmethod
    def _increasing_shares(cls, value: list[int]) -> list[int]:
        if any(not 1 <= step <= 100 for step in value):
            raise fail("steps", "each step is a candidate share from 1 to 100")
        if any(later <= earlier for earlier, later in pairwise(value)):
            raise fail("steps", "steps must increase, e.g. [10, 50, 100]")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        stable, candidate = data.get("stable"), data.get("candidate")
        if isinstance(stable, str) and stable == candidate:
            yield RuleProblem((), "rollout_entities", "stable and candidate must be different served entities")
