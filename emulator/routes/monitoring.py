"""The monitoring APIs the provider calls for alerts and monitors as code (paths and methods as databricks-sdk
`WarehousesAPI`, `DataSourcesAPI`, `NotificationDestinationsAPI`, `AlertsV2API`, `QualityMonitorsAPI`; the
state and its rules are `emulator.monitoring`).

Bodies are taken as JSON objects and checked by the objects themselves, so one answer names every problem.
Permissions: every workspace principal reads all of them and writes alerts and monitors; notification
destinations are written by workspace admins only (Databricks: "Requires workspace admin permissions").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from emulator.auth import Caller, CurrentWorkspace

router = APIRouter()
DESTINATIONS = "/api/2.0/notification-destinations"
ALERTS = "/api/2.0/alerts"
MONITOR = "/api/2.1/unity-catalog/tables/{table_name}/monitor"
JsonObject = dict[str, Any]
JsonBody = Annotated[JsonObject, Body()]


@router.get("/api/2.0/sql/warehouses")
async def list_warehouses(caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    return workspace.monitoring.warehouses.list_all()


@router.get("/api/2.0/sql/warehouses/{warehouse_id}")
async def get_warehouse(warehouse_id: str, caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    return workspace.monitoring.warehouses.get(warehouse_id)


@router.get("/api/2.0/preview/sql/data_sources")
async def list_data_sources(caller: Caller, workspace: CurrentWorkspace) -> list[JsonObject]:
    return workspace.monitoring.warehouses.data_sources()


@router.post(DESTINATIONS)
async def create_destination(caller: Caller, workspace: CurrentWorkspace, body: JsonBody) -> JsonObject:
    return workspace.monitoring.destinations.create(body, caller.is_admin)


@router.get(DESTINATIONS)
async def list_destinations(caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    return workspace.monitoring.destinations.list_all()


@router.get(DESTINATIONS + "/{destination_id}")
async def get_destination(destination_id: str, caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    return workspace.monitoring.destinations.answer(destination_id)


@router.patch(DESTINATIONS + "/{destination_id}")
async def update_destination(
    destination_id: str, caller: Caller, workspace: CurrentWorkspace, body: JsonBody
) -> JsonObject:
    return workspace.monitoring.destinations.update(destination_id, body, caller.is_admin)


@router.delete(DESTINATIONS + "/{destination_id}")
async def delete_destination(destination_id: str, caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    workspace.monitoring.destinations.delete(destination_id, caller.is_admin)
    return {}


@router.post(ALERTS)
async def create_alert(caller: Caller, workspace: CurrentWorkspace, body: JsonBody) -> JsonObject:
    return workspace.monitoring.alerts.create(body, caller.principal, caller.kind == "user")


@router.get(ALERTS)
async def list_alerts(caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    return workspace.monitoring.alerts.list_all()


@router.get(ALERTS + "/{alert_id}")
async def get_alert(alert_id: str, caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    return workspace.monitoring.alerts.get(alert_id)


@router.patch(ALERTS + "/{alert_id}")
async def update_alert(
    alert_id: str,
    caller: Caller,
    workspace: CurrentWorkspace,
    body: JsonBody,
    update_mask: str | None = None,
) -> JsonObject:
    return workspace.monitoring.alerts.update(alert_id, body, update_mask)


@router.delete(ALERTS + "/{alert_id}")
async def trash_alert(alert_id: str, caller: Caller, workspace: CurrentWorkspace, purge: bool = False) -> JsonObject:
    workspace.monitoring.alerts.trash(alert_id, purge)
    return {}


@router.post(MONITOR)
async def create_monitor(table_name: str, caller: Caller, workspace: CurrentWorkspace, body: JsonBody) -> JsonObject:
    return workspace.monitoring.monitors.create(table_name, body)


@router.get(MONITOR)
async def get_monitor(table_name: str, caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    return dict(workspace.monitoring.monitors.get(table_name))


@router.put(MONITOR)
async def update_monitor(table_name: str, caller: Caller, workspace: CurrentWorkspace, body: JsonBody) -> JsonObject:
    return workspace.monitoring.monitors.update(table_name, body)


@router.delete(MONITOR)
async def delete_monitor(table_name: str, caller: Caller, workspace: CurrentWorkspace) -> JsonObject:
    workspace.monitoring.monitors.delete(table_name)
    return {}
