"""What watches an endpoint after a deploy: SQL warehouses, notification destinations, SQL alerts v2 and
quality monitors, one class each in `emulator/objects/`, built here from `MonitoringSpec`.

Unlike the read-only workspace objects, destinations, alerts and monitors are written through Databricks'
own routes (`emulator/routes/monitoring.py`) and kept across runs with the endpoints (`as_json` /
`restore`, used by `emulator.persistence`). Warehouses and tables come from the settings; an endpoint's
AI Gateway inference table (`<catalog>.<schema>.<prefix>_payload`, the prefix defaulting to the endpoint's
name) exists while its inference table is enabled, so a monitor can watch it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emulator.objects.alerts_v2 import AlertsV2
from emulator.objects.notification_destinations import NotificationDestinations
from emulator.objects.quality_monitors import QualityMonitors
from emulator.objects.sql_warehouses import SqlWarehouses

PROD_ONCALL_DESTINATION = "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"
"""The destination Pulumi.prod.yaml notifies by id."""


class SeededDestination(BaseModel):
    """An e-mail destination a workspace admin created before any stack ran."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: str = Field(min_length=1)
    addresses: tuple[str, ...] = ("ml-platform-oncall@example.com",)


class MonitoringSpec(BaseModel):
    """The monitoring objects the workspace starts with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sql_warehouses: tuple[str, ...] = Field(
        # The one Pulumi.prod.yaml's alerts run on, and one more.
        default=("serving-monitoring", "serving-alerts"),
        description="names of running SQL warehouses (ids derived from the names)",
    )
    notification_destinations: dict[str, SeededDestination] = Field(
        default_factory=lambda: {PROD_ONCALL_DESTINATION: SeededDestination(display_name="ml-platform-oncall")},
        description="destinations the workspace's admins made, by id (e-mail): what a stack names by `id`",
    )
    tables: tuple[str, ...] = Field(
        default=(), description="`catalog.schema.table` names of tables besides the endpoints' inference tables"
    )
    monitor_pending_seconds: float = Field(
        default=0.5, ge=0, description="how long a new quality monitor stays MONITOR_STATUS_PENDING"
    )


def inference_table(endpoint_name: str, ai_gateway: dict[str, Any] | None) -> str | None:
    """The payload table an endpoint's AI Gateway writes, while it is enabled."""
    config = (ai_gateway or {}).get("inference_table_config") or {}
    if not config.get("enabled") or not config.get("catalog_name") or not config.get("schema_name"):
        return None
    prefix = config.get("table_name_prefix") or endpoint_name
    return f"{config['catalog_name']}.{config['schema_name']}.{prefix}_payload"


class Monitoring:
    """The four API families; `inference_tables` lists the endpoints' tables, `schema_exists` asks Unity Catalog."""

    def __init__(
        self,
        spec: MonitoringSpec,
        host: str,
        creator: str,
        inference_tables: Callable[[], Iterable[str]],
        schema_exists: Callable[[str], bool],
    ):
        self.warehouses = SqlWarehouses(spec.sql_warehouses, host, creator)
        self.destinations = NotificationDestinations()
        for destination_id, seeded in spec.notification_destinations.items():
            self.destinations.by_id[destination_id] = {
                "display_name": seeded.display_name,
                "kind": "email",
                "fields": {"addresses": list(seeded.addresses)},
            }
        self.alerts = AlertsV2(self.warehouses.exists, self.destinations.exists)
        tables = set(spec.tables)
        self.monitors = QualityMonitors(
            lambda table: table in tables or table in set(inference_tables()),
            schema_exists,
            spec.monitor_pending_seconds,
        )

    def as_json(self) -> dict[str, Any]:
        """What a restarted workspace must still have (monitors are restored active)."""
        return {
            "destinations": self.destinations.by_id,
            "alerts": self.alerts.by_id,
            "monitors": {table: self.monitors.get(table) for table in list(self.monitors.by_table)},
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.destinations.by_id = dict(data.get("destinations") or {})
        self.alerts.by_id = dict(data.get("alerts") or {})
        self.monitors.by_table = {
            table: {**monitor, "status": "MONITOR_STATUS_ACTIVE"}
            for table, monitor in (data.get("monitors") or {}).items()
        }
