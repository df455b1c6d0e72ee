"""The lifecycle of an endpoint's updates, all in memory.

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

import math
import time

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
from emulator.faults import Faults
from emulator.registry import ModelRegistry
from emulator.routing import make_router
from emulator.schemas import ConfigSpec
from emulator.settings import EmulatorSettings, PrincipalSpec
from emulator.workspace_objects import WorkspaceObjects


class Lifecycle:
    """Starts updates and moves endpoints forward to where the clock (and the faults) say they are."""

    def __init__(self, settings: EmulatorSettings, faults: Faults, registry: ModelRegistry, objects: WorkspaceObjects):
        self.settings = settings
        self.faults = faults
        self.registry = registry
        self.objects = objects

    def start_update(self, endpoint: Endpoint, spec: ConfigSpec, caller: PrincipalSpec) -> None:
        """A new config version, IN_PROGRESS; entities unchanged from the active config keep running."""
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
        config = EndpointConfig(
            spec=spec, entities=entities, config_version=endpoint.next_config_version, start_time=started
        )
        endpoint.next_config_version += 1
        stuck = self.faults.take_stuck(endpoint.name)
        # External models have nothing to build or deploy: such an update is done at once.
        nothing_to_deploy = all(entity_spec.external_model is not None for entity_spec in spec.entities)
        completes_at = (
            None if stuck else time.monotonic() + (0.0 if nothing_to_deploy else self.settings.update_seconds)
        )
        endpoint.pending = PendingUpdate(config=config, completes_at=completes_at)
        endpoint.config_update = "IN_PROGRESS"
        endpoint.last_updated_timestamp = started
        self.refresh(endpoint)  # update_seconds may be 0

    def refresh(self, endpoint: Endpoint) -> None:
        now = time.monotonic()
        pending = endpoint.pending
        if (
            pending is not None
            and not pending.failed
            and pending.completes_at is not None
            and now >= pending.completes_at
        ):
            self._complete(endpoint, pending, now)
        for entity in endpoint.config.entities if endpoint.config else []:
            if (
                entity.deployment == RECOVERING
                and entity.recovering_until is not None
                and now >= entity.recovering_until
            ):
                self.recovered(entity)

    def _complete(self, endpoint: Endpoint, pending: PendingUpdate, now: float) -> None:
        new = [e for e in pending.config.entities if e.deployment == CREATING]
        injected = self.faults.take_deployment_failures(endpoint.name)
        failures: dict[str, str] = {}
        for entity in new:
            model, version = entity.spec.entity_name, entity.spec.entity_version
            if entity.spec.external_model is not None:  # served by its provider: no model to find
                continue
            reason = self.registry.missing_reason(model, version)
            reason = reason or self.objects.catalog.not_ready_reason(model, version)
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
            entity.log_server(
                f"Model server started for {entity.spec.entity_name} version "
                f"{entity.spec.entity_version}; listening for requests."
            )
        endpoint.config, endpoint.pending, endpoint.config_update = pending.config, None, "NOT_UPDATING"
        endpoint.router = make_router(
            self.settings.routing,
            pending.config.spec.routes,
            seed=f"{self.settings.routing_seed}:{endpoint.name}:{pending.config.config_version}",
        )
        self._apply_not_ready_fault(endpoint, new, now)

    def _fail(
        self, endpoint: Endpoint, pending: PendingUpdate, new: list[ServedEntity], failures: dict[str, str]
    ) -> None:
        first = next(iter(failures), None)
        for entity in new:
            if entity.name in failures:
                entity.deployment, entity.message = FAILED, f"Served entity deployment failed: {failures[entity.name]}"
                entity.log_build(f"ERROR: {failures[entity.name]}")
                entity.log_build("Build failed; the served entity was not deployed.")
            else:
                entity.deployment = ABORTED
                entity.message = (
                    f"Deployment aborted because served entity '{first}' failed." if first else "Deployment aborted."
                )
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
    def recovered(entity: ServedEntity) -> None:
        entity.deployment, entity.message, entity.recovering_until = READY, "", None
        entity.log_server("Replicas healthy again.")
