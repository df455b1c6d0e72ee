"""The metrics export: per-minute gauges and a latency histogram per served entity, named as Databricks
names them, covering only the last `metrics_window_seconds`."""

from __future__ import annotations

import time

from emulator.testing import running_emulator
from tests.emulator.support import FAST, WorkspaceApi, entity, metric, routes

STABLE = {"endpoint_name": "ep", "served_entity_name": "stable"}
CANARY = {"endpoint_name": "ep", "served_entity_name": "canary"}
GAUGES = (
    "cpu_usage_percentage",
    "mem_usage_percentage",
    "provisioned_concurrent_requests_total",
    "request_count_total",
    "request_4xx_count_total",
    "request_5xx_count_total",
)


def test_metrics_are_prometheus_text_of_databricks_gauges_and_a_latency_histogram(api):
    api.create_ready("ep", [entity("1")])

    response = api.request("GET", "/api/2.0/serving-endpoints/ep/metrics")

    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    types = [line for line in response.text.splitlines() if line.startswith("# TYPE")]
    assert types == [f"# TYPE {name} gauge" for name in GAUGES] + ["# TYPE request_latency_ms histogram"]


def test_every_active_entity_has_series_before_any_request(api):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=90, canary=10))

    text = api.metrics("ep")

    assert metric(text, "request_count_total", **STABLE) == 0
    assert metric(text, "request_count_total", **CANARY) == 0
    assert metric(text, "request_latency_ms_count", **CANARY) == 0


def test_requests_4xx_and_5xx_are_counted_per_entity(api, emu):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=90, canary=10))
    emu.burst("ep", count=2, status_code=500, served_entity="canary")
    for _ in range(3):
        api.invoke("ep", served="canary")
    api.invoke("ep", {"dataframe_records": [{"amount": 1}]}, served="stable")
    api.invoke("ep", served="stable")

    text = api.metrics("ep")

    assert [
        metric(text, n, **CANARY) for n in ("request_count_total", "request_4xx_count_total", "request_5xx_count_total")
    ] == [3, 0, 2]
    assert [
        metric(text, n, **STABLE) for n in ("request_count_total", "request_4xx_count_total", "request_5xx_count_total")
    ] == [2, 1, 0]


def test_requests_refused_before_an_entity_is_chosen_are_in_no_series(api):
    api.create_ready("ep", [entity("1", name="stable")])
    api.invoke("ep", {"no_input": 1})
    api.invoke("ep")

    text = api.metrics("ep")

    assert metric(text, "request_count_total", **STABLE) == 1
    assert metric(text, "request_4xx_count_total", **STABLE) == 0
    assert "endpoint_request_count_total" not in text


def test_values_cover_the_last_window_only_not_a_cumulative_count():
    with running_emulator(**FAST, metrics_window_seconds=0.5) as emu:
        api = WorkspaceApi(emu)
        api.create_ready("ep", [entity("1", name="stable")])
        api.invoke("ep")
        api.invoke("ep")
        assert metric(api.metrics("ep"), "request_count_total", **STABLE) == 2
        deadline = time.monotonic() + 10
        while metric(api.metrics("ep"), "request_count_total", **STABLE) != 0:
            assert time.monotonic() < deadline, "the window never moved past the first requests"
            time.sleep(0.05)

        api.invoke("ep")
        text = api.metrics("ep")

    assert metric(text, "request_count_total", **STABLE) == 1
    assert metric(text, "request_latency_ms_count", **STABLE) == 1


def test_latency_histogram_records_slow_requests(api, emu):
    api.create_ready("ep", [entity("1", name="stable")])
    api.invoke("ep")  # model load, under 250 ms
    emu.set_latency("ep", 0.3)
    api.invoke("ep")

    text = api.metrics("ep")

    assert metric(text, "request_latency_ms_count", **STABLE) == 2
    assert metric(text, "request_latency_ms_bucket", **STABLE, le="250") == 1
    assert metric(text, "request_latency_ms_bucket", **STABLE, le="500") == 2
    assert metric(text, "request_latency_ms_bucket", **STABLE, le="+Inf") == 2
    assert metric(text, "request_latency_ms_sum", **STABLE) >= 300


def test_provisioned_concurrency_follows_the_workload_size(api):
    api.create_ready(
        "ep",
        [entity("1", name="stable"), entity("2", name="canary", workload_size="Medium")],
        routes(stable=50, canary=50),
    )

    text = api.metrics("ep")

    assert metric(text, "provisioned_concurrent_requests_total", **STABLE) == 4
    assert metric(text, "provisioned_concurrent_requests_total", **CANARY) == 8
    assert metric(text, "mem_usage_percentage", **STABLE) > 0


def test_a_scaled_to_zero_entity_shows_no_capacity(api):
    api.create_ready("ep", [entity("1", name="stable", scale_to_zero_enabled=True)])

    text = api.metrics("ep")

    assert [
        metric(text, n, **STABLE)
        for n in ("provisioned_concurrent_requests_total", "cpu_usage_percentage", "mem_usage_percentage")
    ] == [0, 0, 0]


def test_cpu_rises_above_idle_with_busy_requests(api, emu):
    api.create_ready("ep", [entity("1", name="stable")])
    idle = metric(api.metrics("ep"), "cpu_usage_percentage", **STABLE)
    emu.set_latency("ep", 0.3)
    api.invoke("ep")

    busy = metric(api.metrics("ep"), "cpu_usage_percentage", **STABLE)

    assert idle == 1.5
    assert busy > idle
