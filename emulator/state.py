"""The workspace: its endpoints, faults, counters and the objects a preflight reads, all in memory.

Everything runs on the server's event loop, so there are no locks. Lifecycle transitions are applied
lazily (`emulator.lifecycle`): an endpoint is moved forward to where the clock says it is whenever it is
read, so no background task can leave an endpoint half-changed. The endpoint model is `emulator.endpoints`
(re-exported here, where callers imported it from before).
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from emulator.endpoints import (
    ABORTED,
    CREATING,
    FAILED,
    READY,
    RECOVERING,
    Endpoint,
    EndpointConfig,
    PendingUpdate,
    ServedEntity,
    now_ms,
)
from emulator.errors import already_exists, conflict, does_not_exist, invalid_parameter
from emulator.external import check_kind_kept
from emulator.faults import Faults
from emulator.gateway import RateLimiter
from emulator.lifecycle import Lifecycle
from emulator.metrics import EndpointMetrics
from emulator.monitoring import Monitoring, inference_table
from emulator.oauth import TokenIssuer
from emulator.permissions import AccessControlList, grantee_of
from emulator.registry import ModelRegistry
from emulator.schemas import CoreConfigInput, CreateEndpointInput, check_endpoint_name, normalize_config
from emulator.settings import EmulatorSettings, PrincipalSpec
from emulator.workspace_objects import WorkspaceObjects

__all__ = [
    "ABORTED",
    "CREATING",
    "FAILED",
    "READY",
    "RECOVERING",
    "Counters",
    "Endpoint",
    "EndpointConfig",
    "PendingUpdate",
    "ServedEntity",
    "Workspace",
    "now_ms",
]

REQUEST_BODIES_KEPT = 50
"""Scoring request bodies kept per endpoint for tests (bounded: a benchmark sends thousands)."""


@dataclass
class Counters:
    """What a benchmark wants to count: API calls by route, GETs per endpoint, invocations per entity."""

    api_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    get_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    invocations: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    request_bodies: dict[str, deque[str]] = field(
        default_factory=lambda: defaultdict(lambda: deque(maxlen=REQUEST_BODIES_KEPT))
    )
    """Per endpoint, the last scoring request bodies as JSON text (a test sees `42`, not `42.0`)."""
    warmups: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    """Per endpoint and entity, the cold starts and first model loads a request waited out: a test tells a
    warm entity from a cold one by this count, never by how long a request took."""

    def as_json(self) -> dict[str, Any]:
        return {
            "api_calls": dict(self.api_calls),
            "get_calls": dict(self.get_calls),
            "invocations": {ep: dict(per_entity) for ep, per_entity in self.invocations.items()},
            "request_bodies": {ep: list(bodies) for ep, bodies in self.request_bodies.items()},
            "warmups": {ep: dict(per_entity) for ep, per_entity in self.warmups.items()},
        }


class Workspace:
    def __init__(self, settings: EmulatorSettings, data_plane_url: str | None = None):
        self.settings = settings
        self.data_plane_url = data_plane_url
        self.tokens = TokenIssuer(settings.oauth_token_seconds)  # not reset: see emulator.oauth
        self.reset()

    def reset(self) -> None:
        """Back to a fresh workspace: no endpoints, faults or counters; the registry as configured."""
        self.registry = ModelRegistry(self.settings.models)
        self.objects = WorkspaceObjects(
            self.settings.workspace_objects,
            {model: tuple(spec.versions) for model, spec in self.settings.models.items()},
            {spec.principal: (spec.kind, spec.groups) for spec in self.settings.tokens.values()}
            | {client: ("service_principal", spec.groups) for client, spec in self.settings.oauth_clients.items()},
        )
        self.faults = Faults()
        self.lifecycle = Lifecycle(self.settings, self.faults, self.registry, self.objects)
        self.counters = Counters()
        self.endpoints: dict[str, Endpoint] = {}
        admins = [spec.principal for spec in self.settings.tokens.values() if spec.is_admin]
        self.monitoring = Monitoring(
            self.settings.monitoring,
            host="localhost",
            creator=admins[0] if admins else "admin@example.com",
            inference_tables=lambda: (
                table for e in self.endpoints.values() if (table := inference_table(e.name, e.ai_gateway)) is not None
            ),
            schema_exists=lambda name: name in self.objects.catalog.schemas,
        )

    def refresh(self, endpoint: Endpoint) -> None:
        """Move `endpoint` forward to where the clock says it is (see emulator.lifecycle)."""
        self.lifecycle.refresh(endpoint)

    # ---- lookups ----------------------------------------------------------------------------

    def get(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise does_not_exist(f"Endpoint with name '{name}' does not exist.")
        self.refresh(endpoint)
        return endpoint

    def get_by_id(self, endpoint_id: str) -> Endpoint:
        for endpoint in self.endpoints.values():
            if endpoint.id == endpoint_id:
                self.refresh(endpoint)
                return endpoint
        if len(endpoint_id) == 32 and all(c in "0123456789abcdef" for c in endpoint_id):
            raise does_not_exist(f"Inference Endpoint with ID '{endpoint_id}' does not exist.")
        raise invalid_parameter(f"'{endpoint_id}' is not a valid Inference Endpoint ID.")

    def all(self) -> list[Endpoint]:
        for endpoint in self.endpoints.values():
            self.refresh(endpoint)
        return list(self.endpoints.values())

    # ---- control plane ----------------------------------------------------------------------

    def create(self, request: CreateEndpointInput, caller: PrincipalSpec) -> Endpoint:
        check_endpoint_name(request.name)
        if request.name in self.endpoints:
            raise already_exists(f"Endpoint with name '{request.name}' already exists.")
        spec = normalize_config(request.config)
        gateway = request.ai_gateway.as_stored() if request.ai_gateway else {}
        created = now_ms()
        acl = AccessControlList({grantee_of(caller): "CAN_MANAGE"})
        endpoint = Endpoint(
            id=secrets.token_hex(16),
            name=request.name,
            creator=caller.principal,
            creation_timestamp=created,
            last_updated_timestamp=created,
            acl=acl,
            tags={t.key: t.value for t in request.tags or []},
            description=request.description,
            email_notifications=request.email_notifications.model_dump(exclude_none=True)
            if request.email_notifications
            else None,
            route_optimized=request.route_optimized,
            budget_policy_id=request.budget_policy_id,
            metrics=EndpointMetrics(self.settings.metrics_window_seconds),
        )
        self.set_ai_gateway(endpoint, gateway)
        self.endpoints[endpoint.name] = endpoint
        self.lifecycle.start_update(endpoint, spec, caller)
        return endpoint

    def update_config(self, endpoint: Endpoint, config: CoreConfigInput, caller: PrincipalSpec) -> Endpoint:
        if endpoint.config_update == "IN_PROGRESS":
            raise conflict(
                f"Endpoint '{endpoint.name}' is currently being updated (config_update=IN_PROGRESS); "
                "wait for the update to finish before changing its config."
            )
        spec = normalize_config(config)
        if endpoint.config is not None:
            check_kind_kept(
                any(e.spec.external_model is not None for e in endpoint.config.entities),
                any(e.external_model is not None for e in spec.entities),
            )
        self.lifecycle.start_update(endpoint, spec, caller)
        return endpoint

    def set_ai_gateway(self, endpoint: Endpoint, gateway: dict[str, Any]) -> None:
        """A new AI Gateway config; rate-limit budgets start afresh."""
        endpoint.ai_gateway = gateway or None
        rules = gateway.get("rate_limits", [])
        endpoint.rate_limiter = RateLimiter(rules, self.settings.rate_limit_period_seconds) if rules else None

    def delete(self, name: str) -> None:
        if self.endpoints.pop(name, None) is None:
            raise does_not_exist(f"Endpoint with name '{name}' does not exist.")

    # ---- fault controls that act on live state ---------------------------------------------

    def stick_update(self, name: str) -> None:
        """Hold the update in progress, or the next one to start, until released or cleared."""
        endpoint = self.endpoints.get(name)
        if endpoint is not None:
            self.refresh(endpoint)
        if endpoint is not None and endpoint.config_update == "IN_PROGRESS" and endpoint.pending is not None:
            endpoint.pending.completes_at = None
        else:
            self.faults.stuck_next_update.add(name)

    def release_update(self, name: str) -> None:
        """Let a stuck update complete now."""
        self.faults.stuck_next_update.discard(name)
        endpoint = self.endpoints.get(name)
        if endpoint is not None and endpoint.pending is not None and endpoint.pending.completes_at is None:
            endpoint.pending.completes_at = time.monotonic()
            self.refresh(endpoint)

    def clear_faults(self, name: str | None = None) -> None:
        """Forget faults and end their running effects (stuck updates, recovering entities)."""
        self.faults.clear(name)
        for endpoint in list(self.endpoints.values()):
            if name is not None and endpoint.name != name:
                continue
            self.release_update(endpoint.name)
            for entity in endpoint.config.entities if endpoint.config else []:
                if entity.deployment == RECOVERING:
                    self.lifecycle.recovered(entity)
