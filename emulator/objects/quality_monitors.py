"""Lakehouse (quality) monitors on Unity Catalog tables (`/api/2.1/unity-catalog/tables/{table_name}/monitor`,
databricks-sdk `catalog.QualityMonitorsAPI`: POST create, GET, PUT update, DELETE).

A monitor needs its table to exist (an inference table of an endpoint, or one the settings name) and its
output schema; one monitor per table. It is MONITOR_STATUS_PENDING for `monitor_pending_seconds` after its
creation, then MONITOR_STATUS_ACTIVE (the provider waits for that; applied lazily on read, as endpoints are).
An update replaces the declared fields (all but `assets_dir`) and bumps `monitor_version`. Bodies are
`catalog.MonitorInfo`; nothing computes metrics here: the metric tables are named, never filled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from emulator.errors import ApiError, already_exists, does_not_exist, invalid_parameter

PROBLEM_TYPES = ("PROBLEM_TYPE_CLASSIFICATION", "PROBLEM_TYPE_REGRESSION")
PROFILES = ("inference_log", "snapshot", "time_series")
DECLARED = (
    "assets_dir",
    "baseline_table_name",
    "custom_metrics",
    "data_classification_config",
    "inference_log",
    "latest_monitor_failure_msg",
    "notifications",
    "output_schema_name",
    "schedule",
    "slicing_exprs",
    "snapshot",
    "time_series",
)
"""What a create body sets (`CreateMonitor` less the table name and the create-only options)."""
UPDATED = (*(key for key in DECLARED if key != "assets_dir"), "dashboard_id")
"""What an update body sets (`UpdateMonitor`): the assets directory is fixed at creation."""


class QualityMonitors:
    """Monitors by full table name."""

    def __init__(
        self,
        table_exists: Callable[[str], bool],
        schema_exists: Callable[[str], bool],
        pending_seconds: float,
    ):
        self.by_table: dict[str, dict[str, Any]] = {}
        self._active_at: dict[str, float] = {}
        self._table_exists = table_exists
        self._schema_exists = schema_exists
        self._pending_seconds = pending_seconds

    def _check(self, table: str, body: dict[str, Any], required: tuple[str, ...]) -> None:
        problems = [f"{key} is required" for key in required if not body.get(key)]
        schema = body.get("output_schema_name")
        if schema and not self._schema_exists(schema):
            problems.append(f"output_schema_name: schema '{schema}' does not exist")
        profiles = [key for key in PROFILES if body.get(key) is not None]
        if len(profiles) != 1:
            problems.append(f"exactly one of {', '.join(PROFILES)} is required; got {profiles or 'none'}")
        inference = body.get("inference_log") or {}
        if inference:
            for key in ("granularities", "model_id_col", "prediction_col", "problem_type", "timestamp_col"):
                if not inference.get(key):
                    problems.append(f"inference_log.{key} is required")
            if inference.get("problem_type") and inference["problem_type"] not in PROBLEM_TYPES:
                problems.append(f"inference_log.problem_type must be one of {', '.join(PROBLEM_TYPES)}")
        if problems:
            raise invalid_parameter(f"monitor of {table}: " + "; ".join(problems))

    def _require_table(self, table: str) -> None:
        if table.count(".") != 2 or not self._table_exists(table):
            raise ApiError(404, "TABLE_DOES_NOT_EXIST", f"Table '{table}' does not exist.")

    def get(self, table: str) -> dict[str, Any]:
        monitor = self.by_table.get(table)
        if monitor is None:
            raise does_not_exist(f"Monitor for table '{table}' does not exist.")
        active_at = self._active_at.get(table)
        if active_at is not None and time.monotonic() >= active_at:
            monitor["status"] = "MONITOR_STATUS_ACTIVE"
            del self._active_at[table]
        return monitor

    def create(self, table: str, body: dict[str, Any]) -> dict[str, Any]:
        self._require_table(table)
        if table in self.by_table:
            raise already_exists(f"Monitor for table '{table}' already exists.")
        self._check(table, body, ("assets_dir", "output_schema_name"))
        schema, short = body["output_schema_name"], table.rsplit(".", 1)[-1]
        monitor: dict[str, Any] = {key: body[key] for key in DECLARED if body.get(key) is not None}
        monitor.update(
            table_name=table,
            status="MONITOR_STATUS_PENDING",
            monitor_version=1,
            profile_metrics_table_name=f"{schema}.{short}_profile_metrics",
            drift_metrics_table_name=f"{schema}.{short}_drift_metrics",
        )
        if not body.get("skip_builtin_dashboard"):
            monitor["dashboard_id"] = uuid.uuid4().hex
        if monitor.get("schedule"):
            monitor["schedule"] = {"pause_status": "UNPAUSED", **monitor["schedule"]}
        self.by_table[table] = monitor
        self._active_at[table] = time.monotonic() + self._pending_seconds
        return dict(monitor)

    def update(self, table: str, body: dict[str, Any]) -> dict[str, Any]:
        monitor = self.get(table)
        self._check(table, body, ("output_schema_name",))
        kept = {key: monitor[key] for key in monitor if key not in UPDATED}
        changed = {**kept, **{key: body[key] for key in UPDATED if body.get(key) is not None}}
        if changed.get("schedule"):
            changed["schedule"] = {"pause_status": "UNPAUSED", **changed["schedule"]}
        changed["monitor_version"] = int(monitor["monitor_version"]) + 1
        self.by_table[table] = changed
        return dict(changed)

    def delete(self, table: str) -> None:
        self.get(table)
        del self.by_table[table]
        self._active_at.pop(table, None)
