"""NotificationDestination and AlertV2 here, QualityMonitor and getSqlWarehouse in `quality_monitor.py`, as
terraform-provider-databricks implements them (read at its newest snapshot, 2026-08-22; the table of
databricks_standin/README.md says where).

- `settings/resource_notification_destination.go` (SDKv2): Create POSTs `display_name` and `config`, Update
  PATCHes them, Delete DELETEs; Read GETs and keeps the declared secret of every `<field>_set: true` the
  answer carries (`setStruct`), since the API never answers a secret. `destination_type` and the `*_set`
  flags are computed; each `config.<kind>` forces a replacement; the URLs, tokens and keys are sensitive.
- `internal/providers/pluginfw/products/alert_v2/resource_alert_v2.go` (plugin framework, generated): Create
  POSTs the alert, Update PATCHes it with the fixed `update_mask` of every updatable field, Delete trashes it
  (`purge` from `purge_on_delete`, a missing alert is no error); a Read that finds nothing removes it.
  Computed: ids, times, lifecycle state, owner, effective run-as, the evaluation's state. Nothing forces a
  replacement. Errors read `failed to <create|get|update|delete> alert_v2: <cause>`.
- `internal/providers/pluginfw/products/qualitymonitor/resource_quality_monitor.go` (plugin framework, the
  default since it was migrated): Create POSTs, then polls the monitor until MONITOR_STATUS_ACTIVE (15 min;
  ERROR/FAILED halt); Update PUTs (no `assets_dir`, `schedule.pause_status` cleared, `dashboard_id` from the
  state), then the same wait; `warehouse_id` and `skip_builtin_dashboard` are never answered and are kept
  from the inputs; id = the table name. Nothing forces a replacement.
- `sql/data_sql_warehouse.go`: by `id` or `name` (one is required); the legacy data sources map the name to a
  warehouse id (on their failure, the warehouse list), then `Warehouses.GetById`.
"""

from __future__ import annotations

from typing import Any

from databricks_standin import shape
from databricks_standin.resources import Api, ApiError, NotFoundError, Outcome
from databricks_standin.shape import lst, obj, scalar

NOTIFICATION_DESTINATION = "databricks:index/notificationDestination:NotificationDestination"
ALERT_V2 = "databricks:index/alertV2:AlertV2"

# --- NotificationDestination -----------------------------------------------------------------------------

_WRITE_ONLY = {
    "slack": ("url", "channelId", "oauthToken"),
    "pagerduty": ("integrationKey",),
    "genericWebhook": ("url", "username", "password"),
    "microsoftTeams": ("url", "channelUrl", "authSecret", "tenantId", "appId"),
}
"""Per kind, the sensitive fields; the API answers `<field>Set` for each (computed)."""


def _destination_kind(fields: tuple[str, ...]) -> Any:
    return obj(**{name: scalar() for name in fields}, **{f"{name}Set": scalar(computed=True) for name in fields})


NOTIFICATION_DESTINATION_SHAPE = shape.resource(
    displayName=scalar(),
    destinationType=scalar(computed=True),
    config=obj(
        email=obj(addresses=lst(scalar())),
        **{kind: _destination_kind(fields) for kind, fields in _WRITE_ONLY.items()},
    ),
)
NOTIFICATION_DESTINATION_OUTPUTS = ("destinationType", "notificationDestinationId")
"""The Terraform `id` attribute: the bridge names it `notificationDestinationId` (pulumi-databricks 1.118.0)."""
NOTIFICATION_DESTINATION_REPLACES = tuple(f"config.{kind}" for kind in ("email", *_WRITE_ONLY))
NOTIFICATION_DESTINATION_SECRETS = tuple(
    f"config.{kind}.{name}" for kind, fields in _WRITE_ONLY.items() for name in fields
)
"""The attributes the provider marks Sensitive: the bridge makes them secrets."""


def notification_destination_state(api: Api, destination_id: str, recorded: dict[str, Any]) -> dict[str, Any] | None:
    try:
        answer = api("GET", f"/api/2.0/notification-destinations/{destination_id}")
    except NotFoundError:
        return None
    state = shape.project(answer, NOTIFICATION_DESTINATION_SHAPE)
    state["notificationDestinationId"] = answer.get("id")
    declared = recorded.get("config") or {}
    for kind, fields in _WRITE_ONLY.items():
        answered: dict[str, Any] = (state.get("config") or {}).get(kind) or {}
        kept = declared.get(kind) or {}
        for name in fields:
            if answered.get(f"{name}Set"):
                answered[name] = kept.get(name)
    return state


def _destination_body(inputs: dict[str, Any]) -> dict[str, Any]:
    return shape.to_api(inputs, NOTIFICATION_DESTINATION_SHAPE)


def _read_back(api: Api, destination_id: str, inputs: dict[str, Any]) -> Outcome:
    state = notification_destination_state(api, destination_id, inputs)
    if state is None:
        raise ApiError(f"notification destination {destination_id} disappeared right after it was written")
    return Outcome(id=destination_id, outputs=state)


def create_notification_destination(api: Api, inputs: dict[str, Any]) -> Outcome:
    created = api("POST", "/api/2.0/notification-destinations", body=_destination_body(inputs))
    return _read_back(api, created["id"], inputs)


def update_notification_destination(api: Api, destination_id: str, inputs: dict[str, Any]) -> Outcome:
    api("PATCH", f"/api/2.0/notification-destinations/{destination_id}", body=_destination_body(inputs))
    return _read_back(api, destination_id, inputs)


def delete_notification_destination(api: Api, destination_id: str) -> None:
    api("DELETE", f"/api/2.0/notification-destinations/{destination_id}")


# --- AlertV2 ---------------------------------------------------------------------------------------------

_OPERAND_COLUMN = obj(name=scalar(), aggregation=scalar(), display=scalar())
ALERT_V2_SHAPE = shape.resource(
    displayName=scalar(),
    queryText=scalar(),
    warehouseId=scalar(),
    customDescription=scalar(),
    customSummary=scalar(),
    parentPath=scalar(),
    runAsUserName=scalar(),
    runAs=obj(servicePrincipalName=scalar(), userName=scalar()),
    evaluation=obj(
        comparisonOperator=scalar(),
        emptyResultState=scalar(),
        lastEvaluatedAt=scalar(computed=True),
        state=scalar(computed=True),
        source=_OPERAND_COLUMN,
        threshold=obj(
            column=_OPERAND_COLUMN, value=obj(boolValue=scalar(), doubleValue=scalar(), stringValue=scalar())
        ),
        notification=obj(
            notifyOnOk=scalar(),
            retriggerSeconds=scalar(),
            effectiveNotifyOnOk=scalar(computed=True),
            effectiveRetriggerSeconds=scalar(computed=True),
            subscriptions=lst(obj(destinationId=scalar(), userEmail=scalar())),
        ),
    ),
    schedule=obj(quartzCronSchedule=scalar(), timezoneId=scalar(), pauseStatus=scalar()),
    createTime=scalar(computed=True),
    updateTime=scalar(computed=True),
    lifecycleState=scalar(computed=True),
    ownerUserName=scalar(computed=True),
    effectiveRunAs=obj(computed=True, servicePrincipalName=scalar(), userName=scalar()),
    purgeOnDelete=scalar(),
)
ALERT_V2_OUTPUTS = ("createTime", "updateTime", "lifecycleState", "ownerUserName", "effectiveRunAs")
ALERT_V2_UPDATE_MASK = (
    "custom_description,custom_summary,display_name,evaluation,parameters,parent_path,query_text,run_as,"
    "run_as_user_name,schedule,warehouse_id"
)
"""The provider's fixed mask: every updatable field, so what the inputs leave out is cleared."""


def _alert_body(inputs: dict[str, Any]) -> dict[str, Any]:
    body = shape.to_api(inputs, ALERT_V2_SHAPE)
    body.pop("purge_on_delete", None)  # Terraform's own: it only decides how Delete trashes
    return body


def _alert_state(answer: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    state = shape.project(answer, ALERT_V2_SHAPE)
    state["purgeOnDelete"] = inputs.get("purgeOnDelete")  # Terraform's own, never sent (SyncFields...)
    return state


def alert_v2_state(api: Api, alert_id: str, recorded: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return _alert_state(api("GET", f"/api/2.0/alerts/{alert_id}"), recorded)
    except NotFoundError:
        return None


def create_alert_v2(api: Api, inputs: dict[str, Any]) -> Outcome:
    answer = api("POST", "/api/2.0/alerts", body=_alert_body(inputs))
    return Outcome(id=answer["id"], outputs=_alert_state(answer, inputs))


def update_alert_v2(api: Api, alert_id: str, inputs: dict[str, Any]) -> Outcome:
    answer = api(
        "PATCH",
        f"/api/2.0/alerts/{alert_id}",
        body=_alert_body(inputs),
        query={"update_mask": ALERT_V2_UPDATE_MASK},
    )
    return Outcome(id=alert_id, outputs=_alert_state(answer, inputs))


def delete_alert_v2(api: Api, alert_id: str, recorded: dict[str, Any]) -> None:
    query = {"purge": "true"} if recorded.get("purgeOnDelete") else None
    try:
        api("DELETE", f"/api/2.0/alerts/{alert_id}", query=query)
    except NotFoundError:
        pass  # `apierr.IsMissing`: gone already
