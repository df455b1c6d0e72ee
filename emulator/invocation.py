"""The data plane: answering a scoring request the way a served entity would.

Order of checks, from the gateway inward: body size and input format (before any entity is
chosen), routing by the active config's traffic split (or the entity named in the path), the
entity's deployment state, an injected burst (answered at once, like gateway throttling), the
entity's cold start or model load, injected latency, an injected error rate (after the latency, like
a slow failing model), then the model's own schema check (its MLflow signature: emulator.signature)
and prediction.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from emulator import external as external_models
from emulator.errors import ApiError, bad_request, does_not_exist, injected, invalid_state
from emulator.registry import parse_rows
from emulator.state import READY, RECOVERING, Endpoint, ServedEntity, Workspace


@dataclass
class Answer:
    served_entity: str
    predictions: list[float]
    response: dict[str, Any] | None = None
    """An external model's whole response body (chat, completions, embeddings), instead of predictions."""


def parse_body(raw: bytes, limit: int, external: bool = False) -> dict[str, Any]:
    """The request body; `external`: an external-model endpoint, whose task checks its own request shape."""
    if len(raw) > limit:
        raise bad_request(f"Request payload of {len(raw)} bytes exceeds the limit of {limit} bytes (16 MB).")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}.") from None
    if external:
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return body
    parse_rows(body)  # format rules apply before routing
    return body  # type: ignore[no-any-return]  # parse_rows refused anything but a JSON object


def choose_entity(endpoint: Endpoint, served_name: str | None) -> ServedEntity:
    config = endpoint.config
    if config is None:
        raise invalid_state(
            f"Endpoint '{endpoint.name}' is not ready: no served entity has been deployed yet "
            f"(config_update={endpoint.config_update})."
        )
    if served_name is None:
        assert endpoint.router is not None
        served_name = endpoint.router.choose()
    entity = config.entity(served_name)
    if entity is None:
        raise does_not_exist(
            f"Served entity '{served_name}' does not exist in the active config of endpoint '{endpoint.name}'."
        )
    return entity


async def answer(workspace: Workspace, endpoint: Endpoint, entity: ServedEntity, body: dict[str, Any]) -> Answer:
    if entity.deployment == RECOVERING:
        raise ApiError(
            503,
            "TEMPORARILY_UNAVAILABLE",
            f"Served entity '{entity.name}' is not ready: {entity.message}",
            {"Retry-After": "1"},
        )
    if entity.deployment != READY:
        raise invalid_state(f"Served entity '{entity.name}' is not ready ({entity.deployment}).")
    faults = workspace.faults
    burst = faults.take_burst(endpoint.name, entity.name)
    if burst is not None:
        raise injected(
            burst.status_code,
            f"Injected fault: burst of {burst.status_code} responses.",
            burst.retry_after_seconds if burst.status_code in (429, 503) else None,
        )
    external = entity.spec.external_model
    if external is None:  # an external model has no container of ours to start
        await _warm_up(workspace, endpoint.name, entity)
    delay = faults.added_latency(endpoint.name, entity.name)
    if delay > 0:
        await asyncio.sleep(delay)
    status = faults.injected_error(endpoint.name, entity.name)
    if status is not None:
        raise injected(status, f"Injected fault: error rate on served entity '{entity.name}'.")
    spec = entity.spec
    # Re-serialised from the parsed body: a JSON integer stays `42`, a float `42.0`, as the client sent them.
    workspace.counters.request_bodies[endpoint.name].append(json.dumps(body))
    if external is not None:
        entity.last_activity = time.monotonic()
        response = external_models.answer(str(external.get("task")), str(external.get("name")), body)
        return Answer(served_entity=entity.name, predictions=[], response=response)
    rows = parse_rows(body, workspace.registry.columns(spec.entity_name))
    predictions = workspace.registry.predict(spec.entity_name, spec.entity_version, rows)
    entity.last_activity = time.monotonic()
    return Answer(served_entity=entity.name, predictions=predictions)


async def _warm_up(workspace: Workspace, endpoint_name: str, entity: ServedEntity) -> None:
    """Wait out a cold start or first model load; concurrent requests share the same wait (counted once)."""
    if entity.warming is None:
        delay = entity.warmup_delay(time.monotonic(), workspace.settings)
        if delay <= 0:
            entity.last_activity = time.monotonic()
            return
        workspace.counters.warmups[endpoint_name][entity.name] += 1
        entity.warming = asyncio.create_task(_warm(entity, delay, cold=entity.spec.scale_to_zero_enabled))
    # shield: a client that disconnects must not cancel the warm-up the others wait for.
    await asyncio.shield(entity.warming)


async def _warm(entity: ServedEntity, delay: float, cold: bool) -> None:
    entity.log_server(("Scaling up from zero" if cold else "Loading model") + f" ({delay:.2f}s).")
    try:
        await asyncio.sleep(delay)
        entity.loaded = True
        entity.last_activity = time.monotonic()
    finally:
        entity.warming = None
