"""The workspace's endpoints and their lifecycle, all in memory.

Everything runs on the server's event loop, so there are no locks. Lifecycle transitions are applied
lazily: `Workspace.refresh` moves an endpoint forward to where the clock says it is (an update whose
time is up completes, a recovering entity whose time is up becomes ready) whenever the endpoint is
read. No background task can therefore leave an endpoint half-changed.

Lifecycle of a create or config update:
- the update starts IN_PROGRESS with `pending` holding the new config; entities that are new or
  changed are DEPLOYMENT_CREATING, entities identical to active ones are reused as they are (still
  warm, still serving);
- after `update_seconds` (never, while a stuck-update fault holds it) it completes: if every new
  entity's (model, version) is registered and no failure was injected, the pending config becomes
  the active config and `pending` disappears (NOT_UPDATING); otherwise the failing entities become
  DEPLOYMENT_FAILED (the other new ones DEPLOYMENT_ABORTED), config_update UPDATE_FAILED, the active
  config keeps serving and `pending` stays, so GET shows why. A failed first create therefore has no
  active config at all: NOT_READY, with the failure in `pending_config`.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.errors import already_exists, conflict, does_not_exist, invalid_parameter
from emulator.faults import Faults
from emulator.gateway import RateLimiter
from emulator.metrics import EndpointMetrics
from emulator.oauth import TokenIssuer
from emulator.permissions import AccessControlList, grantee_of
from emulator.registry import ModelRegistry
from emulator.routing import Router, make_router
from emulator.schemas import (
    ConfigSpec,
    CoreConfigInput,
    CreateEndpointInput,
    EntitySpec,
    check_endpoint_name,
    normalize_config,
)
from emulator.settings import EmulatorSettings, PrincipalSpec
from emulator.workspace_objects import WorkspaceObjects

REQUEST_BODIES_KEPT = 50
"""Scoring request bodies kept per endpoint for tests (bounded: a benchmark sends thousands)."""
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
        return self.spec.scale_to_zero_enabled and self.deployment == READY and (
            self.last_activity is None or now - self.last_activity >= settings.scale_to_zero_idle_seconds
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


@dataclass
class Counters:
    """What a benchmark wants to count: API calls by route, GETs per endpoint, invocations per entity."""

    api_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    get_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    invocations: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    request_bodies: dict[str, deque[str]] = field(
        default_factory=lambda: defaultdict(lambda: deque(maxlen=REQUEST_BODIES_KEPT)))
    """Per endpoint, the last scoring request bodies as JSON text (a test sees `42`, not `42.0`)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "api_calls": dict(self.api_calls),
            "get_calls": dict(self.get_calls),
            "invocations": {ep: dict(per_entity) for ep, per_entity in self.invocations.items()},
            "request_bodies": {ep: list(bodies) for ep, bodies in self.request_bodies.items()},
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
        self.counters = Counters()
        self.endpoints: dict[str, Endpoint] = {}

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
            if request.email_notifications else None,
            route_optimized=request.route_optimized,
            budget_policy_id=request.budget_policy_id,
            metrics=EndpointMetrics(self.settings.metrics_window_seconds),
        )
        self.set_ai_gateway(endpoint, gateway)
        self.endpoints[endpoint.name] = endpoint
        self._start_update(endpoint, spec, caller)
        return endpoint

    def update_config(self, endpoint: Endpoint, config: CoreConfigInput, caller: PrincipalSpec) -> Endpoint:
        if endpoint.config_update == "IN_PROGRESS":
            raise conflict(
                f"Endpoint '{endpoint.name}' is currently being updated (config_update=IN_PROGRESS); "
                "wait for the update to finish before changing its config."
            )
        spec = normalize_config(config)
        self._start_update(endpoint, spec, caller)
        return endpoint

    def set_ai_gateway(self, endpoint: Endpoint, gateway: dict[str, Any]) -> None:
        """A new AI Gateway config; rate-limit budgets start afresh."""
        endpoint.ai_gateway = gateway or None
        rules = gateway.get("rate_limits", [])
        endpoint.rate_limiter = RateLimiter(rules, self.settings.rate_limit_period_seconds) if rules else None

    def delete(self, name: str) -> None:
        if self.endpoints.pop(name, None) is None:
            raise does_not_exist(f"Endpoint with name '{name}' does not exist.")

    def _start_update(self, endpoint: Endpoint, spec: ConfigSpec, caller: PrincipalSpec) -> None:
        started = now_ms()
        entities = []
        for entity_spec in spec.entities:
            current = endpoint.config.entity(entity_spec.name) if endpoint.config else None
            if current is not None and current.spec == entity_spec and current.deployment in (READY, RECOVERING):
                entities.append(current)  # unchanged: keeps running as it is
                continue
            entity = ServedEntity(spec=entity_spec, creator=caller.principal, creation_timestamp=started)
            entity.log_build(
                f"Build started for served entity '{entity.name}': model {entity_spec.entity_name} "
                f"version {entity_spec.entity_version}, workload {entity_spec.workload_size or 'provisioned'}"
                f"/{entity_spec.workload_type}."
            )
            entities.append(entity)
        config = EndpointConfig(spec=spec, entities=entities, config_version=endpoint.next_config_version,
                                start_time=started)
        endpoint.next_config_version += 1
        stuck = self.faults.take_stuck(endpoint.name)
        completes_at = None if stuck else time.monotonic() + self.settings.update_seconds
        endpoint.pending = PendingUpdate(config=config, completes_at=completes_at)
        endpoint.config_update = "IN_PROGRESS"
        endpoint.last_updated_timestamp = started
        self.refresh(endpoint)  # update_seconds may be 0

    # ---- lifecycle --------------------------------------------------------------------------

    def refresh(self, endpoint: Endpoint) -> None:
        now = time.monotonic()
        pending = endpoint.pending
        if pending is not None and not pending.failed and pending.completes_at is not None \
                and now >= pending.completes_at:
            self._complete(endpoint, pending, now)
        for entity in endpoint.config.entities if endpoint.config else []:
            if entity.deployment == RECOVERING and entity.recovering_until is not None \
                    and now >= entity.recovering_until:
                self._recovered(entity)

    def _complete(self, endpoint: Endpoint, pending: PendingUpdate, now: float) -> None:
        new = [e for e in pending.config.entities if e.deployment == CREATING]
        injected = self.faults.take_deployment_failures(endpoint.name)
        failures: dict[str, str] = {}
        for entity in new:
            reason = self.registry.missing_reason(entity.spec.entity_name, entity.spec.entity_version)
            reason = reason or self.objects.not_ready_reason(entity.spec.entity_name, entity.spec.entity_version)
            reason = reason or injected.get(entity.name) or injected.get(None)
            if reason:
                failures[entity.name] = reason
        # Observed lazily, so date the change to when its time was up rather than to this read.
        assert pending.completes_at is not None
        endpoint.last_updated_timestamp = now_ms() - int((now - pending.completes_at) * 1000)
        if failures or None in injected:
            self._fail(endpoint, pending, new, failures)
            return
        for entity in new:
            entity.deployment, entity.message = READY, ""
            entity.log_build("Container image built; served entity deployed.")
            entity.log_server(f"Model server started for {entity.spec.entity_name} version "
                              f"{entity.spec.entity_version}; listening for requests.")
        endpoint.config, endpoint.pending, endpoint.config_update = pending.config, None, "NOT_UPDATING"
        endpoint.router = make_router(
            self.settings.routing, pending.config.spec.routes,
            seed=f"{self.settings.routing_seed}:{endpoint.name}:{pending.config.config_version}",
        )
        self._apply_not_ready_fault(endpoint, new, now)

    def _fail(self, endpoint: Endpoint, pending: PendingUpdate, new: list[ServedEntity],
              failures: dict[str, str]) -> None:
        first = next(iter(failures), None)
        for entity in new:
            if entity.name in failures:
                entity.deployment, entity.message = FAILED, f"Served entity deployment failed: {failures[entity.name]}"
                entity.log_build(f"ERROR: {failures[entity.name]}")
                entity.log_build("Build failed; the served entity was not deployed.")
            else:
                entity.deployment = ABORTED
                entity.message = f"Deployment aborted because served entity '{first}' failed." if first \
                    else "Deployment aborted."
                entity.log_build("Deployment aborted.")
        pending.failed = True
        endpoint.config_update = "UPDATE_FAILED"

    def _apply_not_ready_fault(self, endpoint: Endpoint, new: list[ServedEntity], now: float) -> None:
        fault = self.faults.take_not_ready(endpoint.name)
        if fault is None or endpoint.config is None:
            return
        if fault.served_entity is not None:
            targets = [e for e in endpoint.config.entities if e.name == fault.served_entity]
        else:
            targets = new or list(endpoint.config.entities)
        until = math.inf if fault.seconds is None else now + fault.seconds
        for entity in targets:
            entity.deployment, entity.recovering_until = RECOVERING, until
            entity.message = "Served entity is recovering: its replicas are restarting."
            entity.log_server("Replica crashed; restarting.")

    @staticmethod
    def _recovered(entity: ServedEntity) -> None:
        entity.deployment, entity.message, entity.recovering_until = READY, "", None
        entity.log_server("Replicas healthy again.")

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
                    self._recovered(entity)
