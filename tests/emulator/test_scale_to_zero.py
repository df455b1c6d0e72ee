"""Cold starts: a scale-to-zero entity starts cold and cools down when idle; any fresh entity loads its
model on its first request; concurrent requests share one cold start."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.emulator.support import FAST, entity

COLD = FAST["cold_start_seconds"]
LOAD = FAST["model_load_seconds"]
IDLE = FAST["scale_to_zero_idle_seconds"]


def _starts(api, served: str = "risk_classifier-1") -> int:
    """How many times the entity was started (a cold start or a model load), from its server logs: what
    the tests assert instead of upper bounds on time, which a loaded machine can break."""
    logs = api.request("GET", f"/api/2.0/serving-endpoints/ep/served-models/{served}/logs").json()["logs"]
    return sum(1 for line in logs.splitlines() if "Scaling up from zero" in line or "Loading model" in line)


def _timed(api, **kwargs) -> float:
    started = time.monotonic()
    response = api.invoke("ep", **kwargs)
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def test_first_request_to_a_scale_to_zero_entity_waits_the_cold_start(api):
    api.create_ready("ep", [entity("1", scale_to_zero_enabled=True)])

    assert _timed(api) >= COLD


def test_request_after_a_cold_start_is_fast(api):
    api.create_ready("ep", [entity("1", scale_to_zero_enabled=True)])
    _timed(api)
    _timed(api)

    assert _starts(api) == 1  # the second request met a warm entity


def test_scale_to_zero_entity_is_cold_again_after_idling(api):
    api.create_ready("ep", [entity("1", scale_to_zero_enabled=True)])
    _timed(api)

    time.sleep(IDLE + 0.05)

    assert _timed(api) >= COLD


def test_concurrent_requests_share_one_cold_start(api):
    api.create_ready("ep", [entity("1", scale_to_zero_enabled=True)])

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda _: api.as_principal("admin@example.com").invoke("ep").status_code, range(6)))
    elapsed = time.monotonic() - started

    assert codes == [200] * 6
    assert elapsed >= COLD
    assert _starts(api) == 1


def test_fresh_entity_without_scale_to_zero_pays_the_model_load_once(api):
    api.create_ready("ep", [entity("1")])

    first = _timed(api)
    _timed(api)

    assert first >= LOAD
    assert _starts(api) == 1


def test_get_shows_a_scaled_to_zero_entity_as_ready_with_a_message(api):
    body = api.create_ready("ep", [entity("1", scale_to_zero_enabled=True)])

    state = body["config"]["served_entities"][0]["state"]
    assert state == {
        "deployment": "DEPLOYMENT_READY",
        "deployment_state_message": "Served entity is scaled to zero; the next request starts it.",
    }
    assert body["state"]["ready"] == "READY"
