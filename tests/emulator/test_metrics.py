"""The metrics export: per-entity counters and latency histogram, plus endpoint totals."""

from __future__ import annotations

from tests.emulator.conftest import entity, metric, routes

STABLE = {"endpoint_name": "ep", "served_entity_name": "stable"}
CANARY = {"endpoint_name": "ep", "served_entity_name": "canary"}
ENDPOINT = {"endpoint_name": "ep"}


def test_metrics_are_prometheus_text(api):
    api.create_ready("ep", [entity("1")])

    response = api.request("GET", "/api/2.0/serving-endpoints/ep/metrics")

    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE request_count_total counter" in response.text
    assert "# TYPE request_latency_ms histogram" in response.text


def test_every_active_entity_has_series_before_any_request(api):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=90, canary=10))

    text = api.metrics("ep")

    assert metric(text, "request_count_total", **STABLE) == 0
    assert metric(text, "request_count_total", **CANARY) == 0


def test_requests_4xx_and_5xx_are_counted_per_entity(api, emu):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=90, canary=10))
    emu.burst("ep", count=2, status_code=500, served_entity="canary")
    for _ in range(3):
        api.invoke("ep", served="canary")
    api.invoke("ep", {"dataframe_records": [{"amount": 1}]}, served="stable")
    api.invoke("ep", served="stable")

    text = api.metrics("ep")

    assert [metric(text, n, **CANARY) for n in ("request_count_total", "request_4xx_count_total",
                                                "request_5xx_count_total")] == [3, 0, 2]
    assert [metric(text, n, **STABLE) for n in ("request_count_total", "request_4xx_count_total",
                                                "request_5xx_count_total")] == [2, 1, 0]


def test_endpoint_totals_include_requests_refused_before_routing(api):
    api.create_ready("ep", [entity("1")])
    api.invoke("ep", {"no_input": 1})
    api.invoke("ep")

    text = api.metrics("ep")

    assert metric(text, "endpoint_request_count_total", **ENDPOINT) == 2
    assert metric(text, "endpoint_request_4xx_count_total", **ENDPOINT) == 1
    assert metric(text, "request_count_total", endpoint_name="ep", served_entity_name="risk_classifier-1") == 1


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
