"""ModelServing and Permissions as terraform-provider-databricks implements them (read at its v1.128 source).

`serving/resource_model_serving.go`:
- Create: `ServingEndpoints.Create`, then wait for `config_update` NOT_UPDATING (default 45 min, less 10 s);
  when the wait fails the endpoint is deleted (`DeleteByName`) and the wait's error returned. Id = name.
- Read: `GetByName`; the answer projected onto the schema, `serving_endpoint_id` = id, `endpoint_url`.
- Update: only `config` (PUT the whole config, then wait for NOT_UPDATING), `tags` (GET, then PATCH the
  difference) and `ai_gateway` (PUT); nothing else is ever sent (description, notifications, budget policy).
- Replacement: `name`, `route_optimized`, the legacy auto-capture catalog/schema/prefix.
- Computed: `config`, `config.traffic_config`, served entities' `name` and `workload_type`.
- A route's `served_model_name` and `served_entity_name` are one thing: the server fills both, and a value
  left out that equals the other is no change (`suppressRouteModelEntityNameDiff`).

`permissions/` (`serving_endpoint_id`, object type `serving-endpoint`):
- Create/Update: `CurrentUser.Me`, then PUT the declared list plus the caller as `user_name` CAN_MANAGE
  (`update.AddCurrentUserAsManage`) unless it is declared. Id `/serving-endpoints/<endpoint id>`.
- Read: GET; the caller's own entry (unless declared), `admins` and inherited levels are not state; an
  empty remainder means the resource is gone.
- Delete: PUT `admins`' direct levels and the caller's CAN_MANAGE.

`common/resource.go`: every Create and Update is followed by a Read (the state is what the workspace
answers); errors read `cannot <create|update|read> <model serving|permissions>: <cause>`; a Read that finds
nothing (404) removes the resource from the state.
- `serving_endpoint_id` forces a replacement; `access_control` is a set (names compared case-insensitively).
"""

from __future__ import annotations

import dataclasses
import random
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from databricks.sdk.service.serving import ExternalModel

from databricks_standin import shape
from databricks_standin.shape import lst, mapping, obj, scalar

MODEL_SERVING = "databricks:index/modelServing:ModelServing"
PERMISSIONS = "databricks:index/permissions:Permissions"
DEFAULT_PROVISION_SECONDS = 45 * 60
DELETE_CALL_SECONDS = 10

_RATE_LIMIT = obj(calls=scalar(), key=scalar(), principal=scalar(), renewalPeriod=scalar(), tokens=scalar())
_ENABLED = obj(enabled=scalar())
_GUARDRAIL = obj(invalidKeywords=lst(scalar()), pii=obj(behavior=scalar()), safety=scalar(), validTopics=lst(scalar()))


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _struct(cls: type) -> Any:
    """An object shape with the fields of a databricks-sdk dataclass.

    The Terraform schema of `external_model` is made from the Go SDK's struct (`common.StructToSchema`), whose
    JSON names the Python SDK's dataclasses share: nested dataclasses are blocks, everything else a scalar.
    """
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        inner = [arg for arg in typing.get_args(hints[field.name]) if arg is not type(None)] or [hints[field.name]]
        kind = inner[0]
        nested = isinstance(kind, type) and dataclasses.is_dataclass(kind)
        fields[_camel(field.name)] = _struct(kind) if nested else scalar(field.name)
    return obj(**fields)


_SERVED_ENTITY = obj(
    name=scalar(computed=True),
    entityName=scalar(),
    entityVersion=scalar(),
    workloadSize=scalar(),
    workloadType=scalar(computed=True),
    scaleToZeroEnabled=scalar(),
    environmentVars=mapping(),
    instanceProfileArn=scalar(),
    minProvisionedConcurrency=scalar(),
    maxProvisionedConcurrency=scalar(),
    minProvisionedThroughput=scalar(),
    maxProvisionedThroughput=scalar(),
    provisionedModelUnits=scalar(),
    burstScalingEnabled=scalar(),
    externalModel=_struct(ExternalModel),
)

MODEL_SERVING_SHAPE = shape.resource(
    name=scalar(),
    description=scalar(),
    routeOptimized=scalar(),
    budgetPolicyId=scalar(),
    tags=lst(obj(key=scalar(), value=scalar()), as_set=True),
    emailNotifications=obj(
        onUpdateFailures=lst(scalar(), "on_update_failure"),
        onUpdateSuccesses=lst(scalar(), "on_update_success"),
    ),
    aiGateway=obj(
        fallbackConfig=_ENABLED,
        guardrails=obj(input=_GUARDRAIL, output=_GUARDRAIL),
        inferenceTableConfig=obj(catalogName=scalar(), schemaName=scalar(), tableNamePrefix=scalar(), enabled=scalar()),
        rateLimits=lst(_RATE_LIMIT),
        usageTrackingConfig=_ENABLED,
    ),
    config=obj(
        computed=True,
        servedEntities=lst(_SERVED_ENTITY),
        trafficConfig=obj(
            computed=True,
            routes=lst(
                obj(
                    servedEntityName=scalar(),
                    servedModelName=scalar(),
                    trafficPercentage=scalar(),
                    equivalent=("servedEntityName", "servedModelName"),
                )
            ),
        ),
        autoCaptureConfig=obj(
            catalogName=scalar(),
            schemaName=scalar(),
            tableNamePrefix=scalar(computed=True),
            enabled=scalar(computed=True),
        ),
    ),
)
MODEL_SERVING_OUTPUTS = ("servingEndpointId", "endpointUrl")
MODEL_SERVING_REPLACES = (
    "name",
    "routeOptimized",
    "config.autoCaptureConfig.catalogName",
    "config.autoCaptureConfig.schemaName",
    "config.autoCaptureConfig.tableNamePrefix",
)

PERMISSIONS_SHAPE = shape.resource(
    servingEndpointId=scalar(),
    accessControls=lst(
        obj(groupName=scalar(), userName=scalar(), servicePrincipalName=scalar(), permissionLevel=scalar()),
        "access_control_list",
        as_set=True,
    ),
)
PERMISSIONS_REPLACES = ("servingEndpointId",)


class ApiError(Exception):
    """What the API answered, as the provider reports it (never a credential)."""


Api = Callable[..., Any]
"""`api(method, path, body=None, query=None)` -> the JSON answer; raises ApiError, NotFoundError."""


class NotFoundError(ApiError):
    """404: the object does not exist."""


class WaitError(ApiError):
    """A wait after the call failed (a plugin-framework resource reports it as a failed get)."""


@dataclass
class Outcome:
    id: str
    outputs: dict[str, Any]


# --- ModelServing ----------------------------------------------------------------------------------------


def _endpoint_state(api: Api, name: str) -> dict[str, Any]:
    answer: dict[str, Any] = api("GET", f"/api/2.0/serving-endpoints/{name}")
    return answer


def wait_not_updating(api: Api, name: str, timeout: float, sleep: Callable[[float], None] = time.sleep) -> None:
    """databricks-sdk-go's `WaitGetServingEndpointNotUpdating` (`service/serving/api.go`) on `retries.Poll`
    (`retries/retries.go`): a GET at once, then after 1 s more each attempt, at most 10 s, plus 50-750 ms of
    jitter; a failed GET or UPDATE_FAILED/UPDATE_CANCELED halts; past the timeout, `timed out: <last status>`."""
    deadline = time.monotonic() + timeout
    attempt = 0
    status = "unknown"
    while True:
        endpoint = _endpoint_state(api, name)
        status = (endpoint.get("state") or {}).get("config_update", "")
        message = f"current status: {status}"
        if status == "NOT_UPDATING":
            return
        if status in ("UPDATE_FAILED", "UPDATE_CANCELED"):
            raise ApiError(f"failed to reach NOT_UPDATING, got {status}: {message}")
        attempt += 1
        wait = min(attempt, 10) + random.uniform(0.05, 0.75)
        if time.monotonic() + wait > deadline:
            raise ApiError(f"timed out: {message}")
        sleep(wait)


def model_serving_state(api: Api, name: str) -> dict[str, Any] | None:
    """Read: the endpoint as state, or None when it is gone."""
    try:
        endpoint = _endpoint_state(api, name)
    except NotFoundError:
        return None
    state = shape.project(endpoint, MODEL_SERVING_SHAPE)
    # Only served entities are state: `served_models` in the answer is dropped (Read's `ServedModels = nil`).
    state["servingEndpointId"] = endpoint.get("id")
    state["endpointUrl"] = endpoint.get("endpoint_url")
    return state


def create_model_serving(api: Api, inputs: dict[str, Any], timeout: float | None) -> Outcome:
    body = shape.to_api(inputs, MODEL_SERVING_SHAPE)
    name = body["name"]
    api("POST", "/api/2.0/serving-endpoints", body=body)
    try:
        wait_not_updating(api, name, (timeout or DEFAULT_PROVISION_SECONDS) - DELETE_CALL_SECONDS)
    except ApiError:
        try:
            api("DELETE", f"/api/2.0/serving-endpoints/{name}")
        except ApiError:
            pass  # the provider only logs a failed clean-up
        raise
    state = model_serving_state(api, name)
    if state is None:
        raise ApiError(f"serving endpoint {name} disappeared right after it was created")
    return Outcome(id=name, outputs=state)


def update_model_serving(api: Api, olds: dict[str, Any], news: dict[str, Any], timeout: float | None) -> Outcome:
    name = olds.get("name") or news["name"]
    changed = shape.changed_paths(olds, news, MODEL_SERVING_SHAPE)
    top = {path.split(".")[0].split("[")[0] for path in changed}
    body = shape.to_api(news, MODEL_SERVING_SHAPE)
    if "config" in top:
        config = dict(body.get("config") or {})
        api("PUT", f"/api/2.0/serving-endpoints/{name}/config", body=config)
        wait_not_updating(api, name, timeout or DEFAULT_PROVISION_SECONDS)
    if "tags" in top:
        current = {(t["key"], t.get("value")) for t in _endpoint_state(api, name).get("tags") or []}
        declared = [
            {"key": t["key"], **({"value": t["value"]} if t.get("value") is not None else {})}
            for t in body.get("tags") or []
        ]
        add = [t for t in declared if (t["key"], t.get("value")) not in current]
        keys = {t["key"] for t in declared}
        delete = [key for key, _ in current if key not in keys]
        patch: dict[str, Any] = {}
        if add:
            patch["add_tags"] = add
        if delete:
            patch["delete_tags"] = delete
        api("PATCH", f"/api/2.0/serving-endpoints/{name}/tags", body=patch)
    if "aiGateway" in top:
        api("PUT", f"/api/2.0/serving-endpoints/{name}/ai-gateway", body=body.get("ai_gateway") or {})
    state = model_serving_state(api, name)
    if state is None:
        raise ApiError(f"serving endpoint {name} does not exist")
    return Outcome(id=name, outputs=state)


def delete_model_serving(api: Api, name: str) -> None:
    api("DELETE", f"/api/2.0/serving-endpoints/{name}")


# --- Permissions -----------------------------------------------------------------------------------------


def current_user(api: Api) -> str:
    return str(api("GET", "/api/2.0/preview/scim/v2/Me", query={"excludedAttributes": "entitlements"})["userName"])


def _declares(entries: list[dict[str, Any]], me: str) -> bool:
    names = (str(entry.get(key) or "").lower() for entry in entries for key in ("user_name", "service_principal_name"))
    return me.lower() in names


def _endpoint_id(object_id: str) -> str:
    return object_id.rsplit("/", 1)[-1]


def write_permissions(api: Api, object_id: str, inputs: dict[str, Any]) -> None:
    me = current_user(api)
    entries = shape.to_api(inputs, PERMISSIONS_SHAPE).get("access_control_list", [])
    for entry in entries:
        if entry.get("group_name") == "admins":
            raise ApiError("it is not possible to modify admin permissions for serving-endpoint resources")
    if not _declares(entries, me):
        entries = [*entries, {"user_name": me, "permission_level": "CAN_MANAGE"}]
    api(
        "PUT",
        f"/api/2.0/permissions/serving-endpoints/{_endpoint_id(object_id)}",
        body={"access_control_list": entries},
    )


def permissions_state(api: Api, object_id: str, recorded: dict[str, Any]) -> dict[str, Any] | None:
    """Read, as `prepareResponse` does; None when nothing the resource manages is left."""
    me = current_user(api)
    try:
        answer = api("GET", f"/api/2.0/permissions/serving-endpoints/{_endpoint_id(object_id)}")
    except NotFoundError:
        return None
    if answer.get("object_type") != "serving-endpoint":
        raise ApiError(f"expected object type serving-endpoint, got {answer.get('object_type')}")
    declared = shape.to_api(recorded, PERMISSIONS_SHAPE).get("access_control_list", [])
    kept = []
    for entry in answer.get("access_control_list") or []:
        names = (entry.get("user_name") or "", entry.get("service_principal_name") or "")
        if me.lower() in (n.lower() for n in names) and not _declares(declared, me):
            continue
        if entry.get("group_name") == "admins":
            continue
        for level in entry.get("all_permissions") or []:
            if level.get("inherited"):
                continue
            kept.append(
                {
                    "groupName": entry.get("group_name"),
                    "userName": (entry.get("user_name") or "").lower() or None,
                    "servicePrincipalName": (entry.get("service_principal_name") or "").lower() or None,
                    "permissionLevel": level.get("permission_level"),
                }
            )
    if not kept:
        return None
    return {"servingEndpointId": _endpoint_id(object_id), "accessControls": kept, "objectType": "serving-endpoint"}


def create_permissions(api: Api, inputs: dict[str, Any]) -> Outcome:
    object_id = f"/serving-endpoints/{inputs['servingEndpointId']}"
    write_permissions(api, object_id, inputs)
    return Outcome(id=object_id, outputs=_permissions_outputs(api, object_id, inputs))


def update_permissions(api: Api, object_id: str, inputs: dict[str, Any]) -> Outcome:
    write_permissions(api, object_id, inputs)
    return Outcome(id=object_id, outputs=_permissions_outputs(api, object_id, inputs))


def _permissions_outputs(api: Api, object_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # `common.Resource` reads after every Create and Update: the state is what the workspace answers.
    state = permissions_state(api, object_id, inputs)
    if state is None:
        raise ApiError(f"permissions of {object_id} are empty right after they were written")
    return state


def delete_permissions(api: Api, object_id: str) -> None:
    try:
        answer = api("GET", f"/api/2.0/permissions/serving-endpoints/{_endpoint_id(object_id)}")
    except NotFoundError:
        return
    entries = []
    for entry in answer.get("access_control_list") or []:
        if entry.get("group_name") != "admins":
            continue
        direct = [p for p in entry.get("all_permissions") or [] if not p.get("inherited")]
        if direct:
            entries.append({"group_name": "admins", "permission_level": direct[0]["permission_level"]})
    me = current_user(api)
    entries.append({"user_name": me, "permission_level": "CAN_MANAGE"})
    api(
        "PUT",
        f"/api/2.0/permissions/serving-endpoints/{_endpoint_id(object_id)}",
        body={"access_control_list": entries},
    )
