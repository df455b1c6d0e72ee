"""Helpers the test modules share: stack files, the review's entry point, the emulator as a deployed workspace.

Test modules import from here, never from one another (a test module is a specification, not a library).
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from components.config import StackConfig, parse_stack_config
from emulator.testing import EmulatorHandle, running_emulator
from review.__main__ import main
from review.engine import PROJECT_DIR, DeclaredResource, ProgramRun, project_name, stacks, unwrap

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
    workspace,
    name: str,
    versions: dict[str, int],
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
    return response.json()


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


MODEL_SERVING = "databricks:index/modelServing:ModelServing"


PERMISSIONS = "databricks:index/permissions:Permissions"


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
        endpoint = requests.get(f"{emu.url}/api/2.0/serving-endpoints/{name}", headers=emu.headers(), timeout=10).json()
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


def emulator_workspace(monkeypatch) -> Iterator[EmulatorHandle]:
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
    endpoint_id = created.json()["id"]
    patched = requests.patch(
        f"{emu.url}/api/2.0/permissions/serving-endpoints/{endpoint_id}",
        json={"access_control_list": grants},
        headers=headers,
        timeout=10,
    )
    assert patched.ok, patched.text
    wait_until_not_updating(emu, name)
    return endpoint_id
