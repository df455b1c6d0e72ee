"""QualityMonitor and the getSqlWarehouse data source (the rules read in the provider: `monitoring.py`'s
docstring and databricks_standin/README.md)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from databricks_standin import shape
from databricks_standin.resources import Api, ApiError, NotFoundError, Outcome, WaitError
from databricks_standin.shape import lst, obj, scalar

QUALITY_MONITOR = "databricks:index/qualityMonitor:QualityMonitor"
GET_SQL_WAREHOUSE = "databricks:index/getSqlWarehouse:getSqlWarehouse"
MONITOR_TIMEOUT_SECONDS = 15 * 60
"""`qualityMonitorDefaultProvisionTimeout`."""

_EMAILS = obj(emailAddresses=lst(scalar()))
QUALITY_MONITOR_SHAPE = shape.resource(
    tableName=scalar(),
    assetsDir=scalar(),
    outputSchemaName=scalar(),
    baselineTableName=scalar(),
    latestMonitorFailureMsg=scalar(),
    slicingExprs=lst(scalar()),
    inferenceLog=obj(
        problemType=scalar(),
        predictionCol=scalar(),
        timestampCol=scalar(),
        modelIdCol=scalar(),
        labelCol=scalar(),
        predictionProbaCol=scalar(),
        granularities=lst(scalar()),
    ),
    timeSeries=obj(timestampCol=scalar(), granularities=lst(scalar())),
    snapshot=obj(),
    schedule=obj(quartzCronExpression=scalar(), timezoneId=scalar(), pauseStatus=scalar(computed=True)),
    notifications=obj(onFailure=_EMAILS, onNewClassificationTagDetected=_EMAILS),
    dataClassificationConfig=obj(enabled=scalar()),
    customMetrics=lst(
        obj(name=scalar(), definition=scalar(), inputColumns=lst(scalar()), outputDataType=scalar(), type=scalar())
    ),
    warehouseId=scalar(),
    skipBuiltinDashboard=scalar(),
    monitorVersion=scalar(computed=True),
    driftMetricsTableName=scalar(computed=True),
    profileMetricsTableName=scalar(computed=True),
    status=scalar(computed=True),
    dashboardId=scalar(computed=True),
)
QUALITY_MONITOR_OUTPUTS = (
    "monitorVersion",
    "driftMetricsTableName",
    "profileMetricsTableName",
    "status",
    "dashboardId",
)
_NOT_ANSWERED = ("warehouseId", "skipBuiltinDashboard")
"""Create-only options the API never answers: the state keeps what was declared."""
_NOT_UPDATED = ("table_name", "assets_dir", "warehouse_id", "skip_builtin_dashboard")
"""Fields of the inputs that `UpdateMonitor` does not have."""


def _path(table: str) -> str:
    return f"/api/2.1/unity-catalog/tables/{table}/monitor"


def poll_until_active(api: Api, table: str, timeout: float, sleep: Callable[[float], None] = time.sleep) -> Any:
    """`waitForMonitor` on databricks-sdk-go's `retries.Poll`: a GET at once, then 1 s more each attempt (at
    most 10 s) plus 50-750 ms of jitter; a failed GET, ERROR or FAILED halt; past the timeout, `timed out`."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        try:
            monitor = api("GET", _path(table))
        except ApiError as error:
            raise WaitError(f"failed to get monitor: {error}") from None
        status = monitor.get("status")
        if status == "MONITOR_STATUS_ACTIVE":
            return monitor
        if status in ("MONITOR_STATUS_ERROR", "MONITOR_STATUS_FAILED"):
            raise WaitError(f"monitor status returned {status} for monitor: {table}")
        attempt += 1
        wait = min(attempt, 10) + random.uniform(0.05, 0.75)
        if time.monotonic() + wait > deadline:
            raise WaitError(f"timed out: monitor {table} is still pending")
        sleep(wait)


def _state(answer: dict[str, Any], kept_from: dict[str, Any]) -> dict[str, Any]:
    state = shape.project(answer, QUALITY_MONITOR_SHAPE)
    for key in _NOT_ANSWERED:
        state[key] = kept_from.get(key)
    state["monitorId"] = answer.get("table_name")  # the Terraform `id` attribute (SDKv2 compatibility)
    return state


def quality_monitor_state(api: Api, table: str, recorded: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return _state(api("GET", _path(table)), recorded)
    except NotFoundError:
        return None


def create_quality_monitor(api: Api, inputs: dict[str, Any], timeout: float | None) -> Outcome:
    table = inputs["tableName"]
    body = shape.to_api(inputs, QUALITY_MONITOR_SHAPE)
    body.pop("table_name", None)
    api("POST", _path(table), body=body)
    monitor = poll_until_active(api, table, timeout or MONITOR_TIMEOUT_SECONDS)
    return Outcome(id=table, outputs=_state(monitor, inputs))


def update_quality_monitor(api: Api, olds: dict[str, Any], news: dict[str, Any], timeout: float | None) -> Outcome:
    table = news["tableName"]
    body = {k: v for k, v in shape.to_api(news, QUALITY_MONITOR_SHAPE).items() if k not in _NOT_UPDATED}
    if olds.get("dashboardId"):
        body["dashboard_id"] = olds["dashboardId"]  # the plan has none; the provider adds the state's
    if body.get("schedule"):
        body["schedule"] = {k: v for k, v in body["schedule"].items() if k != "pause_status"}
    api("PUT", _path(table), body=body)
    monitor = poll_until_active(api, table, timeout or MONITOR_TIMEOUT_SECONDS)
    return Outcome(id=table, outputs=_state(monitor, olds))


def delete_quality_monitor(api: Api, table: str) -> None:
    try:
        api("DELETE", _path(table))
    except NotFoundError:
        pass  # `apierr.IsMissing`


# --- getSqlWarehouse -------------------------------------------------------------------------------------

SQL_WAREHOUSE_SHAPE = shape.resource(
    id=scalar(),
    name=scalar(),
    clusterSize=scalar(),
    minNumClusters=scalar(),
    maxNumClusters=scalar(),
    autoStopMins=scalar(),
    creatorName=scalar(),
    enablePhoton=scalar(),
    enableServerlessCompute=scalar(),
    warehouseType=scalar(),
    spotInstancePolicy=scalar(),
    instanceProfileArn=scalar(),
    channel=obj(name=scalar(), dbsqlVersion=scalar()),
    state=scalar(),
    numClusters=scalar(),
    numActiveSessions=scalar(),
    health=obj(status=scalar(), summary=scalar(), message=scalar(), details=scalar()),
    jdbcUrl=scalar(),
    odbcParams=obj(hostname=scalar(), path=scalar(), port=scalar(), protocol=scalar()),
    tags=obj(customTags=lst(obj(key=scalar(), value=scalar()))),
    dataSourceId=scalar(),
)


def _warehouse_id_by_name(api: Api, name: str) -> str:
    matched = [wh["id"] for wh in api("GET", "/api/2.0/sql/warehouses").get("warehouses") or [] if wh["name"] == name]
    if not matched:
        raise ApiError(f"can't find SQL warehouse with the name '{name}'")
    if len(matched) > 1:
        raise ApiError(f"there are multiple SQL warehouses with the name '{name}'")
    return str(matched[0])


def get_sql_warehouse(api: Api, args: dict[str, Any]) -> dict[str, Any]:
    """The data source: by id or by name, the data source's id filled from the legacy data sources."""
    wanted_id, name = args.get("id") or "", args.get("name") or ""
    if not wanted_id and not name:
        raise ApiError("either 'id' or 'name' should be provided")
    data_source_id = None
    try:
        sources: list[dict[str, Any]] = api("GET", "/api/2.0/preview/sql/data_sources") or []
    except ApiError:
        warehouse_id = _warehouse_id_by_name(api, name) if name else wanted_id
    else:
        selected = [
            s for s in sources if (name and s.get("name") == name) or (not name and s.get("warehouse_id") == wanted_id)
        ]
        which = f"the name '{name}'" if name else f"the ID '{wanted_id}'"
        if not selected:
            raise ApiError(f"can't find SQL warehouse with {which}")
        if len(selected) > 1:
            raise ApiError(f"there are multiple SQL warehouses with {which}")
        warehouse_id, data_source_id = selected[0]["warehouse_id"], selected[0]["id"]
    state = shape.project(api("GET", f"/api/2.0/sql/warehouses/{warehouse_id}"), SQL_WAREHOUSE_SHAPE)
    state["dataSourceId"] = data_source_id
    return state
