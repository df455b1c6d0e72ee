"""Notification destinations (`/api/2.0/notification-destinations`, databricks-sdk
`settings.NotificationDestinationsAPI`).

As Databricks documents them: only workspace admins create, update and delete them; every user reads them.
A config wraps exactly one kind (email, slack, pagerduty, generic_webhook, microsoft_teams), which fixes the
destination's type for good. Secret values (webhook URLs, tokens, the PagerDuty integration key) are
write-only: an answer carries `<field>_set: true` instead, never the value. Bodies are `NotificationDestination`
and `ListNotificationDestinationsResponse`.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.errors import does_not_exist, invalid_parameter, permission_denied

DESTINATION_TYPES = {
    "email": "EMAIL",
    "slack": "SLACK",
    "pagerduty": "PAGERDUTY",
    "generic_webhook": "WEBHOOK",
    "microsoft_teams": "MICROSOFT_TEAMS",
}
WRITE_ONLY = {
    "email": (),
    "slack": ("url", "channel_id", "oauth_token"),
    "pagerduty": ("integration_key",),
    "generic_webhook": ("url", "username", "password"),
    "microsoft_teams": ("url", "channel_url", "auth_secret", "tenant_id", "app_id"),
}
"""Per kind, the fields an answer replaces with `<field>_set` (the sdk's `*Config` dataclasses)."""


def _kind_of(config: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(config, dict) or len(config) != 1 or next(iter(config)) not in DESTINATION_TYPES:
        raise invalid_parameter(f"config must wrap exactly one of {', '.join(DESTINATION_TYPES)}; got {config!r}")
    kind, fields = next(iter(config.items()))
    if not isinstance(fields, dict):
        raise invalid_parameter(f"config.{kind} must be an object")
    allowed = (*WRITE_ONLY[kind], "addresses") if kind == "email" else WRITE_ONLY[kind]
    unknown = sorted(set(fields) - set(allowed) - {f"{name}_set" for name in WRITE_ONLY[kind]})
    if unknown:
        raise invalid_parameter(f"config.{kind} has no field {', '.join(unknown)}")
    return kind, {key: value for key, value in fields.items() if key in allowed}


class NotificationDestinations:
    """The workspace's destinations by id, secrets kept but never answered."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        """id -> {display_name, kind, fields}: what was written, secrets included (persisted)."""

    def _stored(self, destination_id: str) -> dict[str, Any]:
        stored = self.by_id.get(destination_id)
        if stored is None:
            raise does_not_exist(f"Notification destination {destination_id} does not exist.")
        return stored

    @staticmethod
    def _require_admin(is_admin: bool, action: str) -> None:
        if not is_admin:
            raise permission_denied(f"Only workspace admins can {action} notification destinations.")

    def exists(self, destination_id: str) -> bool:
        return destination_id in self.by_id

    def answer(self, destination_id: str) -> dict[str, Any]:
        stored = self._stored(destination_id)
        kind, fields = stored["kind"], stored["fields"]
        shown: dict[str, Any] = {key: value for key, value in fields.items() if key not in WRITE_ONLY[kind]}
        for name in WRITE_ONLY[kind]:
            if fields.get(name):
                shown[f"{name}_set"] = True
        return {
            "id": destination_id,
            "display_name": stored["display_name"],
            "destination_type": DESTINATION_TYPES[kind],
            "config": {kind: shown},
        }

    def create(self, body: dict[str, Any], is_admin: bool) -> dict[str, Any]:
        self._require_admin(is_admin, "create")
        kind, fields = _kind_of(body.get("config"))
        if kind == "email" and not fields.get("addresses"):
            raise invalid_parameter("config.email.addresses must name at least one address")
        for name in WRITE_ONLY[kind][:1]:  # the first field of each kind is what it cannot work without
            if not fields.get(name):
                raise invalid_parameter(f"config.{kind}.{name} is required")
        destination_id = str(uuid.uuid4())
        self.by_id[destination_id] = {"display_name": body.get("display_name"), "kind": kind, "fields": fields}
        return self.answer(destination_id)

    def update(self, destination_id: str, body: dict[str, Any], is_admin: bool) -> dict[str, Any]:
        """PATCH: the fields given replace theirs; a secret left out keeps its value."""
        self._require_admin(is_admin, "update")
        stored = self._stored(destination_id)
        if body.get("display_name") is not None:
            stored["display_name"] = body["display_name"]
        if body.get("config") is not None:
            kind, fields = _kind_of(body["config"])
            if kind != stored["kind"]:
                raise invalid_parameter(
                    f"Cannot change the type of notification destination {destination_id} "
                    f"from {DESTINATION_TYPES[stored['kind']]} to {DESTINATION_TYPES[kind]}."
                )
            stored["fields"] = {**stored["fields"], **fields}
        return self.answer(destination_id)

    def delete(self, destination_id: str, is_admin: bool) -> None:
        self._require_admin(is_admin, "delete")
        self._stored(destination_id)
        del self.by_id[destination_id]

    def list_all(self) -> dict[str, Any]:
        return {
            "results": [
                {
                    "id": destination_id,
                    "display_name": stored["display_name"],
                    "destination_type": DESTINATION_TYPES[stored["kind"]],
                }
                for destination_id, stored in self.by_id.items()
            ]
        }
