"""Helpers the emulator's test modules share: fast settings, principals, request bodies, a small REST client.

Durations are fractions of a second so the suite runs in seconds; tests that need other settings
start their own server with `running_emulator(**FAST, ...)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

from emulator.testing import EmulatorHandle, running_emulator

FAST: dict[str, Any] = {
    "update_seconds": 0.1,
    "cold_start_seconds": 0.4,
    "model_load_seconds": 0.05,
    "scale_to_zero_idle_seconds": 0.5,
    "routing_seed": 7,
}
ADMIN = "admin@example.com"
DEPLOYER = "6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"  # a service principal, not an admin
ANALYST = "analyst@example.com"  # a user, not an admin
RISK = "main.risk.risk_classifier"
ROW = {"amount": 120.0, "age": 41, "income": 5200.0}
WAIT_SECONDS = 5.0


def entity(version: str = "1", model: str = RISK, name: str | None = None, **extra: Any) -> dict:
    body = {"entity_name": model, "entity_version": version, "workload_size": "Small", **extra}
    if name is not None:
        body["name"] = name
    return body


def routes(**shares: int) -> dict:
    return {"routes": [{"served_entity_name": name, "traffic_percentage": pct} for name, pct in shares.items()]}


class WorkspaceApi:
    """The emulator's REST API through plain `requests`, as one principal."""

    def __init__(self, emu: EmulatorHandle, principal: str = ADMIN):
        self.emu = emu
        self.url = emu.url
        self.session = requests.Session()
        self.session.headers.update(emu.headers(emu.token(principal)))

    def as_principal(self, principal: str) -> WorkspaceApi:
        return WorkspaceApi(self.emu, principal)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.url}{path}", timeout=10, **kwargs)

    def create(self, name: str, entities: list[dict], traffic: dict | None = None, **extra: Any) -> requests.Response:
        config: dict[str, Any] = {"served_entities": entities}
        if traffic is not None:
            config["traffic_config"] = traffic
        return self.request("POST", "/api/2.0/serving-endpoints", json={"name": name, "config": config, **extra})

    def update_config(self, name: str, entities: list[dict], traffic: dict | None = None) -> requests.Response:
        config: dict[str, Any] = {"served_entities": entities}
        if traffic is not None:
            config["traffic_config"] = traffic
        return self.request("PUT", f"/api/2.0/serving-endpoints/{name}/config", json=config)

    def get(self, name: str) -> requests.Response:
        return self.request("GET", f"/api/2.0/serving-endpoints/{name}")

    def endpoint(self, name: str) -> dict:
        response = self.get(name)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, name: str, predicate: Callable[[dict], bool], timeout: float = WAIT_SECONDS) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.endpoint(name)
            if predicate(body):
                return body
            assert time.monotonic() < deadline, f"endpoint {name} never matched; last state {body['state']}"
            time.sleep(0.02)

    def wait_settled(self, name: str) -> dict:
        """Until the update in progress has ended (any outcome)."""
        return self.wait_for(name, lambda b: b["state"]["config_update"] != "IN_PROGRESS")

    def create_ready(self, name: str, entities: list[dict], traffic: dict | None = None, **extra: Any) -> dict:
        response = self.create(name, entities, traffic, **extra)
        assert response.status_code == 200, response.text
        return self.wait_for(name, lambda b: b["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"})

    def invoke(self, name: str, body: Any = None, served: str | None = None, **kwargs: Any) -> requests.Response:
        path = (
            f"/serving-endpoints/{name}/served-models/{served}/invocations"
            if served
            else f"/serving-endpoints/{name}/invocations"
        )
        if body is None and "data" not in kwargs:
            body = {"dataframe_records": [ROW]}
        return (
            self.request("POST", path, json=body, **kwargs)
            if body is not None
            else self.request("POST", path, **kwargs)
        )

    def permissions(self, endpoint_id: str, method: str = "GET", acl: list[dict] | None = None) -> requests.Response:
        body = {"access_control_list": acl} if acl is not None else None
        return self.request(method, f"/api/2.0/permissions/serving-endpoints/{endpoint_id}", json=body)

    def metrics(self, name: str) -> str:
        response = self.request("GET", f"/api/2.0/serving-endpoints/{name}/metrics")
        assert response.status_code == 200, response.text
        return response.text


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus exposition."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name + "{"):
            continue
        series, value = line.rsplit(" ", 1)
        found = dict(part.split("=", 1) for part in series[len(name) + 1 : -1].split(","))
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()) and len(found) == len(labels):
            return float(value)
    raise KeyError(f"{name}{labels} not in the exposition")


COLUMNS = ["amount", "age", "income"]
"""The default risk classifier's signature columns, in order (amount: double, age: long, income: double)."""


@contextmanager
def serving_version_one() -> Iterator[WorkspaceApi]:
    """A fast emulator whose endpoint `ep` serves the default risk classifier's version 1, ready."""
    with running_emulator(**FAST) as emu:
        api = WorkspaceApi(emu)
        api.create_ready("ep", [entity("1")])
        yield api
