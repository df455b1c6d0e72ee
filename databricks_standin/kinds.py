"""The resource types the stand-in serves: for each, its shape, what forces a replacement, what only the
provider computes, which attributes are sensitive, how its errors read, and its four operations (one
signature for all, so the gRPC service dispatches on the type alone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from databricks_standin import monitoring, quality_monitor, resources, shape
from databricks_standin.resources import Api, Outcome

Props = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    shapes: dict[str, shape.Shape]
    replaces: tuple[str, ...]
    """Property paths whose change forces a replacement (ForceNew, RequiresReplace)."""
    outputs: tuple[str, ...]
    """Properties only the provider computes: unknown in a preview, never inputs."""
    label: str
    """The resource as its errors name it (`model serving`, `alert_v2`)."""
    create: Callable[[Api, Props, float | None], Outcome]
    read: Callable[[Api, str, Props], Props | None]
    update: Callable[[Api, str, Props, Props, float | None], Outcome]
    delete: Callable[[Api, str, Props], None]
    secrets: tuple[str, ...] = ()
    """Dotted paths of Sensitive attributes: secrets in the inputs and the state, as the bridge makes them."""
    framework: bool = False
    """A plugin-framework resource: errors read `failed to <verb> <label>: ...`, not `cannot <verb> ...`."""

    def error(self, action: str, cause: Exception) -> str:
        if not self.framework:
            return f"cannot {action} {self.label}: {cause}"
        verb = "get" if action == "read" or isinstance(cause, resources.WaitError) else action
        return f"failed to {verb} {self.label}: {cause}"


def _quality_monitor_update(api: Api, _: str, olds: Props, news: Props, timeout: float | None) -> Outcome:
    return quality_monitor.update_quality_monitor(api, olds, news, timeout)


KINDS: dict[str, Kind] = {
    resources.MODEL_SERVING: Kind(
        resources.MODEL_SERVING_SHAPE,
        resources.MODEL_SERVING_REPLACES,
        resources.MODEL_SERVING_OUTPUTS,
        "model serving",
        create=resources.create_model_serving,
        read=lambda api, name, _: resources.model_serving_state(api, name),
        update=lambda api, _, olds, news, timeout: resources.update_model_serving(api, olds, news, timeout),
        delete=lambda api, name, _: resources.delete_model_serving(api, name),
    ),
    resources.PERMISSIONS: Kind(
        resources.PERMISSIONS_SHAPE,
        resources.PERMISSIONS_REPLACES,
        ("objectType",),
        "permissions",
        create=lambda api, inputs, _: resources.create_permissions(api, inputs),
        read=resources.permissions_state,
        update=lambda api, object_id, _, news, __: resources.update_permissions(api, object_id, news),
        delete=lambda api, object_id, _: resources.delete_permissions(api, object_id),
    ),
    monitoring.NOTIFICATION_DESTINATION: Kind(
        monitoring.NOTIFICATION_DESTINATION_SHAPE,
        monitoring.NOTIFICATION_DESTINATION_REPLACES,
        monitoring.NOTIFICATION_DESTINATION_OUTPUTS,
        "notification destination",
        create=lambda api, inputs, _: monitoring.create_notification_destination(api, inputs),
        read=monitoring.notification_destination_state,
        update=lambda api, dest_id, _, news, __: monitoring.update_notification_destination(api, dest_id, news),
        delete=lambda api, dest_id, _: monitoring.delete_notification_destination(api, dest_id),
        secrets=monitoring.NOTIFICATION_DESTINATION_SECRETS,
    ),
    monitoring.ALERT_V2: Kind(
        monitoring.ALERT_V2_SHAPE,
        (),
        monitoring.ALERT_V2_OUTPUTS,
        "alert_v2",
        create=lambda api, inputs, _: monitoring.create_alert_v2(api, inputs),
        read=monitoring.alert_v2_state,
        update=lambda api, alert_id, _, news, __: monitoring.update_alert_v2(api, alert_id, news),
        delete=monitoring.delete_alert_v2,
        framework=True,
    ),
    quality_monitor.QUALITY_MONITOR: Kind(
        quality_monitor.QUALITY_MONITOR_SHAPE,
        (),
        quality_monitor.QUALITY_MONITOR_OUTPUTS,
        "monitor",
        create=quality_monitor.create_quality_monitor,
        read=quality_monitor.quality_monitor_state,
        update=_quality_monitor_update,
        delete=lambda api, table, _: quality_monitor.delete_quality_monitor(api, table),
        framework=True,
    ),
}

INVOKES: dict[str, Callable[[Api, Props], Props]] = {
    quality_monitor.GET_SQL_WAREHOUSE: quality_monitor.get_sql_warehouse
}
INVOKE_LABELS = {quality_monitor.GET_SQL_WAREHOUSE: "sql warehouse"}
"""A data source's errors read `cannot read data <label>: ...` (`common/datasource.go`, `nicerError`)."""
