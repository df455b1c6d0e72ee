"""Helpers the test modules share: stack files, the review's entry point, the emulator as a deployed workspace.

Test modules import from here, never from one another (a test module is a specification, not a library).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
import types
import typing
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from databricks.sdk.core import Config
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy
from pydantic import BaseModel

from components.aliases import RESOLVE_MODEL_VERSION
from components.config import StackConfig, StackConfigError, parse_stack_config
from emulator.testing import EmulatorHandle, running_emulator
from policy.rules import ENDPOINT_READINESS, MODEL_SERVING, PERMISSIONS, Resource
from review.__main__ import main
from review.engine import (
    PROJECT_DIR,
    DeclaredResource,
    ProgramRun,
    WorkspaceMocks,
    project_name,
    run_program,
    stacks,
    unwrap,
)
from review.summary import SERVING_ENDPOINT, ResourceSummary
from serving.preflight import EntityToCheck, InferenceTableToCheck, Located, PreflightRequest
from serving.verification import DeclaredEntity, Expectation
from serving.workspace import ServingClient
from tests.engine_driver import Plugin, Step, urn

STACKS = stacks()


def project_values(document: dict[str, Any]) -> dict[str, Any]:
    """The stack file's keys of this project, without their namespace (`endpoints`, `defaults`)."""
    prefix = f"{project_name()}:"
    return {key[len(prefix) :]: value for key, value in document["config"].items() if key.startswith(prefix)}


def stack_config(document: dict[str, Any], stack: str = "test") -> StackConfig:
    return parse_stack_config(stack, project_values(document))


DEPLOYER_TOKEN = "dapi-emulator-deployer"
"""The emulator's token for the deploying service principal (what `pulumi up` runs as)."""


def create_endpoint(
    workspace: EmulatorHandle,
    name: str,
    versions: Mapping[Any, int],
    *,
    model: str = "main.risk.risk_classifier",
    scale_to_zero: bool = False,
    token: str = DEPLOYER_TOKEN,
) -> dict[str, Any]:
    """Create an endpoint as pulumi-databricks would: served entity `<short>-<version>` per version -> share."""
    import requests

    short = model.rsplit(".", 1)[-1]
    body = {
        "name": name,
        "config": {
            "served_entities": [
                {
                    "name": f"{short}-{version}",
                    "entity_name": model,
                    "entity_version": str(version),
                    "workload_size": "Small",
                    "scale_to_zero_enabled": scale_to_zero,
                }
                for version in versions
            ],
            "traffic_config": {
                "routes": [
                    {"served_entity_name": f"{short}-{version}", "traffic_percentage": share}
                    for version, share in versions.items()
                ]
            },
        },
    }
    response = requests.post(
        f"{workspace.url}/api/2.0/serving-endpoints", json=body, headers=workspace.headers(token), timeout=10
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


ENDPOINT = "databricks:index/modelServing:ModelServing"


ENDPOINTS_KEY = "databricks-serving:endpoints"


def review(*argv: str, project_dir: Path = PROJECT_DIR) -> tuple[int, str, str]:
    """`python -m review <argv>`: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv), project_dir=project_dir)
        except SystemExit as exit_:  # argparse's usage errors
            status = int(exit_.code or 0)
    return status, out.getvalue(), err.getvalue()


def write_stack_file(document: dict[str, Any], directory: Path) -> Path:
    path = directory / "Pulumi.candidate.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def declared_endpoint(token: Any, owner: Any) -> DeclaredResource:
    """A ModelServing whose environment variable and owner tag may be secrets."""
    component = "urn:pulumi:prod::databricks-serving::serving:index:ServingEndpoint::risk"
    entity = {
        "name": "risk-3",
        "entityName": "main.risk.risk",
        "entityVersion": "3",
        "workloadSize": "Small",
        "scaleToZeroEnabled": False,
        "environmentVars": {"UPSTREAM_TOKEN": token},
    }
    return DeclaredResource(
        urn=f"{component}${ENDPOINT}::risk-endpoint",
        type=ENDPOINT,
        name="risk-endpoint",
        parent=component,
        custom=True,
        inputs={
            "name": "prod-risk",
            "config": {"servedEntities": [entity]},
            "tags": [{"key": "owner", "value": owner}],
        },
        dependencies=(),
        additional_secret_outputs=(),
    )


SECRET_TOKEN = "dapi" + "feedface" * 4


SECRET_OWNER = "ana-private@example.com"


ROLLOUT = "servingops:index:EndpointRollout"


# pulumi-databricks names list inputs in the plural where the API (and Terraform) has the singular.
API_NAMES = {"onUpdateSuccesses": "on_update_success", "onUpdateFailures": "on_update_failure"}


UPDATE_TIMEOUT_SECONDS = 20


def api_body(value: Any) -> Any:
    """Declared pulumi-databricks inputs (camelCase) as the serving API's JSON (snake_case), as the provider sends."""
    if isinstance(value, Mapping):
        return {
            API_NAMES.get(key, re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()): dict(item)
            if key == "environmentVars"
            else api_body(item)  # variable names are the user's
            for key, item in value.items()
            if item is not None and not key.startswith("__")
        }
    if isinstance(value, list):
        return [api_body(item) for item in value]
    return value


def wait_until_not_updating(emu: EmulatorHandle, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + UPDATE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        answer = requests.get(f"{emu.url}/api/2.0/serving-endpoints/{name}", headers=emu.headers(), timeout=10)
        endpoint: dict[str, Any] = answer.json()
        if endpoint["state"]["config_update"] == "NOT_UPDATING":
            return endpoint
        time.sleep(0.02)
    raise TimeoutError(f"{name} still updating after {UPDATE_TIMEOUT_SECONDS} s")


def deploy_by_config(emu: EmulatorHandle, run: ProgramRun) -> dict[str, str]:
    """Create every endpoint and its permissions as the program declares them, as `pulumi up` leaves them.

    The ModelServing inputs go to POST /serving-endpoints as the provider sends them; a rollout's target split
    is what serves once `pulumi up` is over; the Permissions are PUT (authoritative) by endpoint id, as the
    deploying service principal. Returns endpoint name -> id.
    """
    headers = emu.headers(DEPLOYER_TOKEN)
    by_urn = {resource.urn: resource for resource in run.resources}
    ids: dict[str, str] = {}
    for resource in run.of_type(MODEL_SERVING):
        body = api_body(unwrap(resource.inputs))
        capture = body.get("config", {}).pop("auto_capture_config", None)
        if capture:
            # Legacy inference tables are refused since 2026-02-20: the same table through the AI Gateway.
            body.setdefault("ai_gateway", {})["inference_table_config"] = capture
        rollouts = [r for r in run.of_type(ROLLOUT) if r.parent == resource.parent]
        if rollouts:
            target = unwrap(rollouts[0].inputs)["target"]
            body["config"]["traffic_config"] = {
                "routes": [{"served_entity_name": name, "traffic_percentage": share} for name, share in target.items()]
            }
        created = requests.post(f"{emu.url}/api/2.0/serving-endpoints", json=body, headers=headers, timeout=10)
        assert created.status_code == 200, created.text
        ids[body["name"]] = created.json()["id"]
    for resource in run.of_type(PERMISSIONS):
        (endpoint,) = [by_urn[urn] for urn in resource.dependencies if by_urn[urn].type == MODEL_SERVING]
        name = unwrap(endpoint.inputs)["name"]
        acl = api_body(unwrap(resource.inputs)["accessControls"])
        put = requests.put(
            f"{emu.url}/api/2.0/permissions/serving-endpoints/{ids[name]}",
            json={"access_control_list": acl},
            headers=headers,
            timeout=10,
        )
        assert put.status_code == 200, put.text
    for name in ids:
        wait_until_not_updating(emu, name)
    return ids


def emulator_workspace(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    """An emulator as the workspace of DATABRICKS_HOST / DATABRICKS_TOKEN (the deployer), nothing else."""
    with running_emulator(update_seconds=0.05, model_load_seconds=0, cold_start_seconds=0) as emu:
        for key in (
            "DATABRICKS_CONFIG_PROFILE",
            "DATABRICKS_CLIENT_ID",
            "DATABRICKS_CLIENT_SECRET",
            "DATABRICKS_AUTH_TYPE",
        ):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        monkeypatch.setenv("DATABRICKS_HOST", emu.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", DEPLOYER_TOKEN)
        yield emu


def drift(emu: EmulatorHandle, ids: dict[str, str]) -> None:
    """Changes made by hand: traffic moved, a grant added, a tag changed."""
    headers = emu.headers(DEPLOYER_TOKEN)
    name = "prod-risk-classifier"
    endpoint = requests.get(f"{emu.url}/api/2.0/serving-endpoints/{name}", headers=headers, timeout=10).json()
    kept = ("name", "entity_name", "entity_version", "workload_size", "scale_to_zero_enabled")
    entities = [{key: entity[key] for key in kept} for entity in endpoint["config"]["served_entities"]]
    moved = {
        "served_entities": entities,
        "traffic_config": {
            "routes": [
                {"served_entity_name": "risk_classifier-3", "traffic_percentage": 50},
                {"served_entity_name": "risk_classifier-4", "traffic_percentage": 50},
            ]
        },
    }
    assert requests.put(
        f"{emu.url}/api/2.0/serving-endpoints/{name}/config", json=moved, headers=headers, timeout=10
    ).ok
    wait_until_not_updating(emu, name)
    grant = {"access_control_list": [{"user_name": "analyst@example.com", "permission_level": "CAN_QUERY"}]}
    assert requests.patch(
        f"{emu.url}/api/2.0/permissions/serving-endpoints/{ids[name]}", json=grant, headers=headers, timeout=10
    ).ok
    tags = {"add_tags": [{"key": "team", "value": "risk-ops"}]}
    assert requests.patch(f"{emu.url}/api/2.0/serving-endpoints/{name}/tags", json=tags, headers=headers, timeout=10).ok


QUERY_PRINCIPAL = "3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10"


def adopt(*argv: str) -> tuple[int, str, str]:
    return review("import", *argv)


def create_by_hand(emu: EmulatorHandle, name: str, grants: list[dict[str, str]]) -> str:
    """An endpoint as the `requests` examples of the Databricks docs make it: legacy `served_models`, no tags."""
    headers = emu.headers(DEPLOYER_TOKEN)
    body = {
        "name": name,
        "config": {
            "served_models": [
                {
                    "model_name": "main.recs.recommender",
                    "model_version": "7",
                    "workload_size": "Small",
                    "scale_to_zero_enabled": False,
                }
            ]
        },
    }
    created = requests.post(f"{emu.url}/api/2.0/serving-endpoints", json=body, headers=headers, timeout=10)
    assert created.status_code == 200, created.text
    endpoint_id = str(created.json()["id"])
    patched = requests.patch(
        f"{emu.url}/api/2.0/permissions/serving-endpoints/{endpoint_id}",
        json={"access_control_list": grants},
        headers=headers,
        timeout=10,
    )
    assert patched.ok, patched.text
    wait_until_not_updating(emu, name)
    return endpoint_id


class AnsweringMocks(WorkspaceMocks):
    """A workspace whose aliases point where `aliases` says; every question asked is kept."""

    def __init__(self, aliases: dict[tuple[str, str], str]):
        super().__init__("https://workspace.example.com")
        self.aliases = aliases
        self.asked: list[tuple[str, str]] = []

    def call(self, args: Any) -> Any:
        if args.token != RESOLVE_MODEL_VERSION:
            return super().call(args)
        question = (args.args["model"], args.args["alias"])
        self.asked.append(question)
        if question in self.aliases:
            return {"version": self.aliases[question]}, []
        return {"unresolved": f"model {question[0]} has no alias {question[1]} in this workspace"}, []


def by_alias(document: dict[str, Any], alias: str = "@champion") -> dict[str, Any]:
    """The prod stack with the risk classifier's candidate (version 4) declared by alias."""
    endpoint = document["config"]["databricks-serving:endpoints"]["risk-classifier"]
    endpoint["served_models"][1]["version"] = alias
    label = alias.lstrip("@")
    endpoint["traffic"] = {"risk_classifier-3": 90, f"risk_classifier-{label}": 10}
    endpoint["rollout"]["candidate"] = f"risk_classifier-{label}"
    return document


SP = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"


BASE: dict[str, Any] = {
    "defaults": {"name_prefix": "prod-", "tags": {"owner": "ml-platform"}},
    "endpoints": {
        "risk": {
            "served_models": [
                {"model": "main.risk.risk_classifier", "version": 3, "workload_size": "Medium"},
                {"model": "main.risk.risk_classifier", "version": "4", "workload_size": "Medium"},
            ],
            "traffic": {"risk_classifier-3": 90, "risk_classifier-4": 10},
            "access": {"query_service_principal": SP, "manager_groups": ["ml-platform-oncall"]},
        }
    },
}


def problems_of(change: Callable[[dict[str, Any]], None], plaintext_keys: Any = None) -> list[str]:
    """The problems reported for BASE after `change(values)` has edited a copy of it."""
    values = copy.deepcopy(BASE)
    change(values)
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config("prod", values, plaintext_keys)
    assert str(caught.value).startswith("Pulumi.prod.yaml has")
    return caught.value.problems


def risk(values: dict[str, Any]) -> dict[str, Any]:
    endpoint: dict[str, Any] = values["endpoints"]["risk"]
    return endpoint


EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expectation(
    name: str,
    versions: dict[int, int],
    *,
    example: Any = EXAMPLE,
    timeout: float = 20.0,
    warmup_timeout: float = 20.0,
    scale_to_zero: bool = False,
) -> Expectation:
    return Expectation(
        endpoint=name,
        served_entities=tuple(
            DeclaredEntity(f"risk_classifier-{v}", "main.risk.risk_classifier", str(v), scale_to_zero) for v in versions
        ),
        traffic={f"risk_classifier-{v}": share for v, share in versions.items()},
        timeout_seconds=timeout,
        input_example=example,
        warmup_timeout_seconds=warmup_timeout,
    )


def props(
    name: str, versions: dict[int, int], *, endpoint_id: str = "id-1", example: Any = EXAMPLE, timeout: float = 20
) -> dict[str, Any]:
    return {
        "endpoint_name": name,
        "endpoint_id": endpoint_id,
        "served_entities": [
            {
                "name": f"risk_classifier-{v}",
                "entity_name": "main.risk.risk_classifier",
                "entity_version": str(v),
                "scale_to_zero": False,
            }
            for v in versions
        ],
        "traffic": {f"risk_classifier-{v}": share for v, share in versions.items()},
        "timeout_seconds": timeout,
        "warmup": {
            **({"input_example_json": json.dumps(example)} if example is not None else {}),
            "timeout_seconds": 20,
        },
        "route_optimized": False,
    }


def entity(version: int) -> dict[str, Any]:
    return {
        "name": f"risk_classifier-{version}",
        "entity_name": "main.risk.risk_classifier",
        "entity_version": str(version),
        "workload_size": "Small",
        "workload_type": "CPU",
        "scale_to_zero_enabled": False,
    }


def new_endpoint(workspace: EmulatorHandle, prefix: str, stable: int = 3, candidate: int = 4, share: int = 0) -> str:
    """An endpoint serving `stable` and `candidate` (at `share`%), once it is ready."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    create_endpoint(workspace, name, {stable: 100 - share, candidate: share})
    client = ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN)))
    deadline = time.monotonic() + 10
    while ((client.get_endpoint(name) or {})["state"]["ready"] != "READY") and time.monotonic() < deadline:
        time.sleep(0.05)
    return name


def live_split(client: ServingClient, name: str) -> dict[str, int]:
    endpoint = client.get_endpoint(name)
    assert endpoint is not None, f"{name} does not exist"
    routes = endpoint["config"]["traffic_config"]["routes"]
    return {route["served_entity_name"]: route["traffic_percentage"] for route in routes}


class Callers:
    """Bounded concurrent traffic through the endpoint's own route, as real callers would send it."""

    def __init__(
        self, client: ServingClient, name: str, threads: int = 3, max_requests: int = 2000, max_seconds: float = 30
    ):
        self.client, self.name = client, name
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._budget = threading.Semaphore(max_requests)
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._call, daemon=True) for _ in range(threads)]

    def _call(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline and self._budget.acquire(blocking=False):
            self.statuses[self.client.invoke(self.name, EXAMPLE, timeout=10).status] += 1
            time.sleep(0.01)

    def __enter__(self) -> Callers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


POLL_SECONDS = 0.2


def readiness_props(
    name: str, endpoint_id: str, versions: dict[int, int], *, timeout: float = 30, example: Any = EXAMPLE
) -> dict[str, Any]:
    return props(name, versions, endpoint_id=endpoint_id, example=example, timeout=timeout)


def rollout_props(
    name: str, endpoint_id: str, target: int, *, steps: Sequence[int] = (10, 50, 100), bake: float = 0.5
) -> dict[str, Any]:
    return {
        "endpoint_name": name,
        "endpoint_id": endpoint_id,
        "served_entities": [entity(3), entity(4)],
        "target": {"risk_classifier-3": 100 - target, "risk_classifier-4": target},
        "stable": "risk_classifier-3",
        "candidate": "risk_classifier-4",
        "steps": list(steps),
        "bake_seconds": bake,
        "examples_json": [json.dumps(EXAMPLE)],
        "tolerance": 1e-6,
        "health": {
            "max_error_rate": 0.05,
            "max_p95_latency_ms": 2000,
            "min_requests": 6,
            "probe_interval_seconds": 0.05,
        },
        "update_timeout_seconds": 20,
        "route_optimized": False,
        "plan": ["10% to risk_classifier-4"],
    }


def configured(host: str) -> Plugin:
    plugin = Plugin()
    plugin.configure({"host": host, "token": DEPLOYER_TOKEN, "pollSeconds": POLL_SECONDS}, secret_keys={"token"})
    return plugin


def endpoint_summaries(key: str, endpoint_fields: dict[str, Any]) -> list[ResourceSummary]:
    """A component and its ModelServing as the review summarizes them."""
    component = f"urn:pulumi:prod::databricks-serving::serving:index:ServingEndpoint::{key}"
    return [
        ResourceSummary(SERVING_ENDPOINT, key, component, "", {}),
        ResourceSummary(
            MODEL_SERVING,
            f"{key}-endpoint",
            f"{component}-endpoint",
            component,
            {"name": f"prod-{key}", **endpoint_fields},
        ),
    ]


README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def nested_model(annotation: object) -> tuple[str, type[BaseModel]] | None:
    """For a field holding config models: how the README writes the step into them, and the model."""
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(options) == 1:
        annotation = options[0]  # Optional[X] is X
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "[].", args[0]
    if origin is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return ".<key>.", args[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ".", annotation
    return None


def config_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of the stack config, written as the README writes them (`endpoints.<key>.served_models[].x`)."""
    keys = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        nested = nested_model(field.annotation)
        keys.append(path)
        if nested is not None:
            keys.extend(config_keys(nested[1], path + nested[0]))
    return sorted(keys)


TOKEN = "dapi-fail-fast-0123456789abcdef"


def clear_databricks_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Unified authentication finds only what a test passes: no DATABRICKS_* variable, no profile file."""
    for name in (
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_CONFIG_PROFILE",
        "DATABRICKS_AUTH_TYPE",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))
    monkeypatch.setenv("HOME", str(tmp_path))


def closed_port() -> int:
    """A loopback port nobody listens on: bound, then closed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


KEY = "endpoints.risk-classifier"


RISK = "main.risk.risk_classifier"


RISK_API = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"


NOBODY = "00000000-0000-4000-8000-000000000000"


def entity_to_check(version: str, index: int = 0, model: str = RISK) -> EntityToCheck:
    return EntityToCheck(
        name=f"e{index}", entity_name=model, entity_version=version, key_path=f"{KEY}.served_models[{index}].version"
    )


def request(**changes: Any) -> PreflightRequest:
    """Everything the prod risk classifier needs, all of it present in the seeded workspace."""
    values = {
        "endpoint": "risk-classifier",
        "served_entities": (entity_to_check("3", 0), entity_to_check("4", 1)),
        "query_service_principal": Located(RISK_API, f"{KEY}.access.query_service_principal"),
        "manager_groups": (Located("ml-platform-oncall", f"{KEY}.access.manager_groups[0]"),),
        "secret_references": (
            Located(
                "{{secrets/fraud-scoring/feature-store-token}}",
                f"{KEY}.served_models[0].environment_vars.FEATURE_STORE_TOKEN",
            ),
        ),
        "inference_table": InferenceTableToCheck("main", "serving_logs", f"{KEY}.inference_table"),
    }
    return PreflightRequest(**{**values, **changes})


def paths(findings: Iterable[Any]) -> list[str]:
    return [finding.key_path for finding in findings]


PREFLIGHT = "servingops:index:Preflight"


def preflight_props(
    versions: Sequence[str] = ("3", "4"),
    *,
    principal: str = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c",
    groups: Sequence[str] = ("ml-platform-oncall",),
    schema: str = "serving_logs",
) -> dict[str, Any]:
    """The stack's preflight inputs, with one endpoint (`risk-classifier`)."""
    return {
        "endpoints": {"risk-classifier": endpoint_checks(versions, principal=principal, groups=groups, schema=schema)}
    }


def endpoint_checks(
    versions: Sequence[str] = ("3", "4"),
    *,
    principal: str = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c",
    groups: Sequence[str] = ("ml-platform-oncall",),
    schema: str = "serving_logs",
) -> dict[str, Any]:
    return {
        "endpoint_name": "risk-classifier",
        "served_entities": [
            {
                "name": f"risk_classifier-{v}",
                "entity_name": RISK,
                "entity_version": v,
                "key_path": f"{KEY}.served_models[{i}].version",
            }
            for i, v in enumerate(versions)
        ],
        "query_service_principal": {"value": principal, "key_path": f"{KEY}.access.query_service_principal"},
        "manager_groups": [{"value": g, "key_path": f"{KEY}.access.manager_groups[{i}]"} for i, g in enumerate(groups)],
        "secret_references": [
            {
                "value": "{{secrets/fraud-scoring/feature-store-token}}",
                "key_path": f"{KEY}.served_models[0].environment_vars.FEATURE_STORE_TOKEN",
            }
        ],
        "inference_table": {"catalog": "main", "schema": schema, "key_path": f"{KEY}.inference_table"},
        "grants": [],
    }


def preflight_step(props: dict[str, Any], name: str = "preflight", olds: dict[str, Any] | None = None) -> Step:
    return Step(urn(PREFLIGHT, name), props, olds=olds, old_inputs=olds, resource_id="preflight" if olds else "")


RISK_QUERY_PRINCIPAL = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"


TAGS = {"owner": "ml-platform", "cost-center": "cc-4711", "environment": "prod"}


def component_urn(key: str) -> str:
    return f"urn:pulumi:prod::databricks-serving::serving:index:ServingEndpoint::{key}"


def served(name: str, *, size: str | None = "Medium", scale_to_zero: Any = False, **props: Any) -> dict[str, Any]:
    entity = {"name": name, "entityName": "main.risk.risk_classifier", "entityVersion": name.rsplit("-", 1)[-1]}
    if size is not None:
        entity["workloadSize"] = size
    if scale_to_zero is not None:
        entity["scaleToZeroEnabled"] = scale_to_zero
    return {**entity, "workloadType": "CPU", **props}


def endpoint(
    key: str = "risk",
    *,
    entities: list[dict[str, Any]] | None = None,
    routes: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    parent: str | None = None,
) -> Resource:
    """A ModelServing as the component declares it; by default one served entity with all traffic."""
    entities = entities if entities is not None else [served("risk-3")]
    config: dict[str, Any] = {"servedEntities": entities}
    routes = routes if routes is not None else {entity["name"]: 100 for entity in entities[:1]}
    if routes:
        config["trafficConfig"] = {
            "routes": [{"servedEntityName": name, "trafficPercentage": share} for name, share in routes.items()]
        }
    tags = TAGS if tags is None else tags
    return Resource(
        type=MODEL_SERVING,
        name=f"{key}-endpoint",
        urn=f"{component_urn(key)}$databricks:index/modelServing:ModelServing::{key}-endpoint",
        parent=component_urn(key) if parent is None else parent,
        props={"name": f"prod-{key}", "config": config, "tags": [{"key": k, "value": v} for k, v in tags.items()]},
    )


def permissions(*grants: dict[str, str], key: str = "risk", bound_to: str = "servingEndpointId") -> Resource:
    return Resource(
        type=PERMISSIONS,
        name=f"{key}-permissions",
        urn=f"{component_urn(key)}$databricks:index/permissions:Permissions::{key}-permissions",
        parent=component_urn(key),
        props={bound_to: "3946237c38303b587114156c74bda225", "accessControls": list(grants)},
    )


def service_principal(level: str = "CAN_QUERY") -> dict[str, str]:
    return {"servicePrincipalName": RISK_QUERY_PRINCIPAL, "permissionLevel": level}


def group(name: str, level: str = "CAN_MANAGE") -> dict[str, str]:
    return {"groupName": name, "permissionLevel": level}


def user(name: str, level: str = "CAN_QUERY") -> dict[str, str]:
    return {"userName": name, "permissionLevel": level}


def readiness(key: str = "risk", endpoint_name: Any = "prod-risk", parent: str | None = None) -> Resource:
    return Resource(
        type=ENDPOINT_READINESS,
        name=f"{key}-readiness",
        urn=f"{component_urn(key)}$servingops:index:EndpointReadiness::{key}-readiness",
        parent=component_urn(key) if parent is None else parent,
        props={"endpoint_name": endpoint_name, "timeout_seconds": 2100},
    )


def verdict_of(name: str, verdicts: Iterable[Any]) -> Any:
    (verdict,) = [verdict for verdict in verdicts if verdict.rule.name == name]
    return verdict


def validation_args(resource: Resource, config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    """What pulumi_policy hands a resource policy: inputs behind its unknown-checking proxy."""
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent)
    props = unknown_checking_proxy(copy.deepcopy(dict(resource.props)))
    return ResourceValidationArgs(resource.type, props, resource.urn, resource.name, options, None, config)


def reported(policy: Any, args: ResourceValidationArgs) -> list[tuple[str, str | None]]:
    reports: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: reports.append((message, urn)))
    return reports


def seeded(workspace: EmulatorHandle) -> EmulatorHandle:
    """The workspace as seeded: a test starts from the settings' objects (those a former test changed are back)."""
    workspace.reset()
    return workspace


def deployer_client(workspace: EmulatorHandle) -> ServingClient:
    """The serving client as `pulumi up` has it: the deploying service principal's token."""
    return ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN)))


# --- monitoring: a stack whose risk-classifier is monitored ------------------------------------------------

DESTINATIONS = "databricks-serving:notification_destinations"


PAGERDUTY_KEY = "pd-integration-0123456789abcdef"


SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/abcdefghijkl"


SECRETS = {"databricks-serving:pagerduty-key": PAGERDUTY_KEY, "databricks-serving:slack-url": SLACK_URL}


def unmonitored(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stack document whose endpoints have no `monitoring` block."""
    document = copy.deepcopy(document)
    for entry in document["config"][ENDPOINTS_KEY].values():
        entry.pop("monitoring", None)
    return document


def monitored(document: dict[str, Any], **monitoring: Any) -> dict[str, Any]:
    """A copy in which only risk-classifier is monitored, with `monitoring` over a warehouse and two destinations."""
    document = unmonitored(document)
    config = document["config"]
    config[DESTINATIONS] = {
        "oncall": {"pagerduty": {"integration_key_secret": "pagerduty-key"}},
        "ml-slack": {"slack": {"url_secret": "slack-url"}},
        "ml-mail": {"email": ["ml-platform@example.com"]},
    }
    config["databricks-serving:pagerduty-key"] = {"secure": "v1:cGFnZXJkdXR5"}
    config["databricks-serving:slack-url"] = {"secure": "v1:c2xhY2s="}
    config[ENDPOINTS_KEY]["risk-classifier"]["monitoring"] = {
        "warehouse": "serving-monitoring",
        "notify": ["oncall", "ml-slack"],
        **monitoring,
    }
    return document


def run_prod(document: dict[str, Any], mocks: WorkspaceMocks | None = None) -> ProgramRun:
    """The program on a prod stack document, its secret config keys set."""
    return run_program("prod", document=document, secret_values=SECRETS, mocks=mocks)


def alert(key: str = "risk", kind: str = "latency", parent: str | None = None, query: str = "SELECT 0") -> Resource:
    """An AlertV2 as components.monitoring declares it next to its endpoint."""
    return Resource(
        type="databricks:index/alertV2:AlertV2",
        name=f"{key}-alert-{kind}",
        urn=f"{component_urn(key)}$databricks:index/alertV2:AlertV2::{key}-alert-{kind}",
        parent=component_urn(key) if parent is None else parent,
        props={"displayName": f"prod-{key} {kind}", "queryText": query},
    )


# --- make, as a newcomer runs it ---------------------------------------------------------------------------


def make(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`make -s ARGUMENTS` in the project, its tools run with this interpreter, setup taken as done."""
    return subprocess.run(
        ["make", "-s", "-o", "setup", f"PYTHON={sys.executable}", *arguments],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def status_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if " exited " in line]
