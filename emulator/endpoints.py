"""An endpoint as the workspace holds it: its active config, the update under way, each served entity's
deployment state and data-plane warmth. Plain data: `emulator.lifecycle` moves it between states,
`emulator.render` turns it into API bodies, `emulator.persistence` into the state file."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.gateway import RateLimiter
from emulator.metrics import EndpointMetrics
from emulator.permissions import AccessControlList
from emulator.routing import Router
from emulator.schemas import ConfigSpec, EntitySpec
from emulator.settings import EmulatorSettings

CREATING = "DEPLOYMENT_CREATING"
READY = "DEPLOYMENT_READY"
FAILED = "DEPLOYMENT_FAILED"
ABORTED = "DEPLOYMENT_ABORTED"
RECOVERING = "DEPLOYMENT_RECOVERING"


def now_ms() -> int:
    return int(time.time() * 1000)


def _log_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ServedEntity:
    spec: EntitySpec
    creator: str
    creation_timestamp: int
    deployment: str = CREATING
    message: str = "Creating the served entity's container image and deploying it."
    build_logs: list[str] = field(default_factory=list)
    server_logs: list[str] = field(default_factory=list)
    # Data-plane runtime: a freshly deployed entity has not loaded its model; a scale-to-zero entity
    # is warm only within `scale_to_zero_idle_seconds` of its last activity.
    loaded: bool = False
    last_activity: float | None = None
    warming: asyncio.Task[None] | None = None
    recovering_until: float | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def log_build(self, line: str) -> None:
        self.build_logs.append(f"{_log_time()} {line}")

    def log_server(self, line: str) -> None:
        self.server_logs.append(f"{_log_time()} {line}")

    def warmup_delay(self, now: float, settings: EmulatorSettings) -> float:
        """Seconds a request arriving now must wait before the model can answer it."""
        idle = self.last_activity is None or now - self.last_activity >= settings.scale_to_zero_idle_seconds
        if self.spec.scale_to_zero_enabled and idle:
            return settings.cold_start_seconds
        return 0.0 if self.loaded else settings.model_load_seconds

    def is_scaled_to_zero(self, now: float, settings: EmulatorSettings) -> bool:
        return (
            self.spec.scale_to_zero_enabled
            and self.deployment == READY
            and (self.last_activity is None or now - self.last_activity >= settings.scale_to_zero_idle_seconds)
        )


@dataclass
class EndpointConfig:
    spec: ConfigSpec
    entities: list[ServedEntity]
    config_version: int
    start_time: int

    def entity(self, name: str) -> ServedEntity | None:
        return next((e for e in self.entities if e.name == name), None)


@dataclass
class PendingUpdate:
    config: EndpointConfig
    completes_at: float | None  # monotonic deadline; None while a stuck-update fault holds it
    failed: bool = False


@dataclass
class Endpoint:
    id: str
    name: str
    creator: str
    creation_timestamp: int
    last_updated_timestamp: int
    acl: AccessControlList
    tags: dict[str, str | None] = field(default_factory=dict)  # a tag may have no value
    description: str | None = None
    email_notifications: dict[str, Any] | None = None
    ai_gateway: dict[str, Any] | None = None
    route_optimized: bool | None = None
    budget_policy_id: str | None = None
    config: EndpointConfig | None = None
    pending: PendingUpdate | None = None
    config_update: str = "IN_PROGRESS"
    router: Router | None = None
    next_config_version: int = 1
    metrics: EndpointMetrics = field(default_factory=EndpointMetrics)
    rate_limiter: RateLimiter | None = None

    @property
    def ready(self) -> str:
        serving = self.config is not None and all(e.deployment == READY for e in self.config.entities)
        return "READY" if serving else "NOT_READY"
