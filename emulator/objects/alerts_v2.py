"""SQL alerts v2 (`/api/2.0/alerts`, databricks-sdk `sql.AlertsV2API`; databricks-sdk-go `service/sql` AlertsV2).

Create posts the `AlertV2` itself; Update is a PATCH with an `update_mask` (the fields it names are replaced,
`*` all of them); Delete moves the alert to the trash (`lifecycle_state: DELETED`, still readable, gone from
the list) unless `purge=true` removes it. The server fills `id`, `create_time`, `update_time`,
`lifecycle_state`, `owner_user_name`, `effective_run_as` and the evaluation's `state`. The alert is only
stored: nothing runs its query (there is no SQL engine here).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from emulator.errors import does_not_exist, invalid_parameter

COMPARISON_OPERATORS = (
    "EQUAL",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
    "IS_NULL",
    "IS_NOT_NULL",
)
UPDATABLE = (
    "custom_description",
    "custom_summary",
    "display_name",
    "evaluation",
    "parameters",
    "parent_path",
    "query_text",
    "run_as",
    "run_as_user_name",
    "schedule",
    "warehouse_id",
)
"""The fields an update mask may name (the provider sends all of them)."""
SERVER_FIELDS = ("id", "create_time", "update_time", "lifecycle_state", "owner_user_name", "effective_run_as")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class AlertsV2:
    """Alerts by id. `warehouse_exists` and `destination_exists` check what an alert refers to."""

    def __init__(self, warehouse_exists: Callable[[str], bool], destination_exists: Callable[[str], bool]):
        self.by_id: dict[str, dict[str, Any]] = {}
        self._warehouse_exists = warehouse_exists
        self._destination_exists = destination_exists

    def _check(self, alert: dict[str, Any]) -> None:
        """Every problem of `alert` at once, as one INVALID_PARAMETER_VALUE."""
        problems = [
            f"{key} is required" for key in ("display_name", "query_text", "warehouse_id") if not alert.get(key)
        ]
        evaluation = alert.get("evaluation") or {}
        if not (evaluation.get("source") or {}).get("name"):
            problems.append("evaluation.source.name is required")
        if evaluation.get("comparison_operator") not in COMPARISON_OPERATORS:
            problems.append(f"evaluation.comparison_operator must be one of {', '.join(COMPARISON_OPERATORS)}")
        schedule = alert.get("schedule") or {}
        problems += [
            f"schedule.{key} is required" for key in ("quartz_cron_schedule", "timezone_id") if not schedule.get(key)
        ]
        if alert.get("warehouse_id") and not self._warehouse_exists(alert["warehouse_id"]):
            problems.append(f"warehouse_id: SQL warehouse {alert['warehouse_id']} does not exist")
        for index, subscription in enumerate((evaluation.get("notification") or {}).get("subscriptions") or []):
            destination = subscription.get("destination_id")
            if bool(destination) == bool(subscription.get("user_email")):
                problems.append(
                    f"evaluation.notification.subscriptions[{index}]: set one of destination_id, user_email"
                )
            elif destination and not self._destination_exists(destination):
                problems.append(
                    f"evaluation.notification.subscriptions[{index}]: notification destination {destination} "
                    "does not exist"
                )
        if problems:
            raise invalid_parameter("; ".join(problems))

    def get(self, alert_id: str) -> dict[str, Any]:
        alert = self.by_id.get(alert_id)
        if alert is None:
            raise does_not_exist(f"Alert {alert_id} does not exist.")
        return alert

    def create(self, body: dict[str, Any], caller: str, caller_is_user: bool) -> dict[str, Any]:
        alert = {key: value for key, value in body.items() if key not in SERVER_FIELDS and value is not None}
        self._check(alert)
        created = _now()
        run_as = {"user_name": caller} if caller_is_user else {"service_principal_name": caller}
        alert.update(
            id=str(uuid.uuid4()),
            create_time=created,
            update_time=created,
            lifecycle_state="ACTIVE",
            owner_user_name=caller,
            effective_run_as=run_as,
        )
        alert["evaluation"] = {**alert["evaluation"], "state": "UNKNOWN"}
        self.by_id[alert["id"]] = alert
        return alert

    def update(self, alert_id: str, body: dict[str, Any], update_mask: str | None) -> dict[str, Any]:
        alert = self.get(alert_id)
        if not update_mask:
            raise invalid_parameter("update_mask is required: the fields to update, comma separated, or *")
        fields = UPDATABLE if update_mask.strip() == "*" else tuple(f.strip() for f in update_mask.split(","))
        unknown = sorted(set(fields) - set(UPDATABLE))
        if unknown:
            raise invalid_parameter(f"update_mask names fields that cannot be updated: {', '.join(unknown)}")
        changed = dict(alert)
        for field in fields:
            if body.get(field) is None:
                changed.pop(field, None)
            else:
                changed[field] = body[field]
        self._check(changed)
        changed["evaluation"] = {**changed["evaluation"], "state": alert["evaluation"].get("state", "UNKNOWN")}
        changed["update_time"] = _now()
        self.by_id[alert_id] = changed
        return changed

    def trash(self, alert_id: str, purge: bool) -> None:
        alert = self.get(alert_id)
        if purge:
            del self.by_id[alert_id]
        else:
            alert["lifecycle_state"] = "DELETED"

    def list_all(self) -> dict[str, Any]:
        alerts = [alert for alert in self.by_id.values() if alert["lifecycle_state"] == "ACTIVE"]
        return {"alerts": sorted(alerts, key=lambda alert: alert["create_time"])}
