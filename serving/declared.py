"""What the stack declared for one endpoint, as readiness, warmup and the rollout check it.

Plain data, no client: serving.verification waits for it, serving.warmup sends it requests,
serving.traffic_shift builds one per step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

Log = Callable[[str], None]


class ReadinessError(Exception):
    """The endpoint cannot serve as declared. The message says which endpoint, entity and why."""


@dataclass(frozen=True)
class DeclaredEntity:
    name: str
    entity_name: str
    entity_version: str
    scale_to_zero: bool = False


@dataclass(frozen=True)
class Expectation:
    """What the stack declared for one endpoint, and how long readiness may take to prove it."""

    endpoint: str
    served_entities: tuple[DeclaredEntity, ...]
    traffic: Mapping[str, int]
    timeout_seconds: float
    input_example: Mapping[str, Any] | None = None
    warmup_timeout_seconds: float = 900.0
    route_optimized: bool = False
    """Called at its own URL with an OAuth token, through its traffic split only."""
    probes: Mapping[str, str] = field(default_factory=dict)
    """External models (served entity name -> task): ready once a probe request succeeds (serving.probes)."""

    @property
    def served_versions(self) -> dict[str, str]:
        return {entity.name: entity.entity_version for entity in self.served_entities}

    def fingerprint(self) -> str:
        """Identifies what is verified: entities, versions, traffic and warmup, not the deadlines."""
        material = {
            "endpoint": self.endpoint,
            "served_entities": [asdict(entity) for entity in self.served_entities],
            "traffic": dict(sorted(self.traffic.items())),
            "input_example": self.input_example,
        }
        if self.probes:  # only then: the fingerprints of endpoints without external models stay as they were
            material["probes"] = dict(sorted(self.probes.items()))
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def declared_summary(expectation: Expectation) -> str:
    return ", ".join(
        f"{entity.name} v{entity.entity_version} {expectation.traffic.get(entity.name, 0)}%"
        for entity in expectation.served_entities
    )


def format_elapsed(seconds: float) -> str:
    """`2m05s`, `42s`: a wait's length in a message."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
