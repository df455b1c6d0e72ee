"""SQL warehouses as an alert's evaluation and the provider's `databricks_sql_warehouse` data source read them.

Seeded from the settings (`MonitoringSpec.sql_warehouses`: names), never created or changed through the API:
the program only looks a warehouse up. Bodies are databricks-sdk `sql.GetWarehouseResponse` /
`sql.EndpointInfo` (`WarehousesAPI.get` / `list`, `/api/2.0/sql/warehouses[/{id}]`) and `sql.DataSource`
(`DataSourcesAPI.list`, `/api/2.0/preview/sql/data_sources`, which the data source calls first).
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.errors import does_not_exist
from emulator.objects.ids import stable_id


class SqlWarehouses:
    """Running serverless warehouses, one per seeded name; ids are stable from run to run."""

    def __init__(self, names: tuple[str, ...], host: str, creator: str):
        """`host`: the workspace's host name (the JDBC and ODBC coordinates name it)."""
        self._by_id: dict[str, dict[str, Any]] = {}
        for name in names:
            warehouse_id = stable_id("sql-warehouse", name)[:16]
            self._by_id[warehouse_id] = self._body(warehouse_id, name, host, creator)

    @staticmethod
    def _body(warehouse_id: str, name: str, host: str, creator: str) -> dict[str, Any]:
        path = f"/sql/1.0/warehouses/{warehouse_id}"
        return {
            "id": warehouse_id,
            "name": name,
            "cluster_size": "2X-Small",
            "min_num_clusters": 1,
            "max_num_clusters": 1,
            "auto_stop_mins": 10,
            "creator_name": creator,
            "enable_photon": True,
            "enable_serverless_compute": True,
            "warehouse_type": "PRO",
            "spot_instance_policy": "COST_OPTIMIZED",
            "channel": {"name": "CHANNEL_NAME_CURRENT"},
            "state": "RUNNING",
            "num_clusters": 1,
            "num_active_sessions": 0,
            "health": {"status": "HEALTHY"},
            "jdbc_url": f"jdbc:spark://{host}:443/default;transportMode=http;ssl=1;AuthMech=3;httpPath={path};",
            "odbc_params": {"hostname": host, "path": path, "port": 443, "protocol": "https"},
        }

    def exists(self, warehouse_id: str) -> bool:
        return warehouse_id in self._by_id

    def get(self, warehouse_id: str) -> dict[str, Any]:
        body = self._by_id.get(warehouse_id)
        if body is None:
            # Choice: the wording of Databricks' answer for an unknown warehouse is not documented.
            raise does_not_exist(f"SQL warehouse {warehouse_id} does not exist.")
        return dict(body)

    def list_all(self) -> dict[str, Any]:
        return {"warehouses": [dict(body) for body in self._by_id.values()]}

    def data_sources(self) -> list[dict[str, Any]]:
        """The legacy SQL data sources: one per warehouse, which the provider maps name -> warehouse id."""
        return [
            {
                "id": str(uuid.UUID(stable_id("data-source", warehouse_id))),
                "name": body["name"],
                "warehouse_id": warehouse_id,
                "type": "databricks_internal",
                "syntax": "sql",
                "paused": 0,
                "view_only": False,
                "supports_auto_limit": True,
            }
            for warehouse_id, body in self._by_id.items()
        ]
