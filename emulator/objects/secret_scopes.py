"""Secret scopes and key names (databricks-sdk workspace `ListScopesResponse`, `ListSecretsResponse`): names
only, the emulator holds no secret values at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.errors import does_not_exist
from emulator.objects.ids import EPOCH_MS


class SecretScopes:
    """Scope -> key names; changed through the admin API only."""

    def __init__(self, scopes: Mapping[str, tuple[str, ...]]):
        self.secret_scopes = {scope: set(keys) for scope, keys in scopes.items()}

    def scopes_list(self) -> dict[str, Any]:
        scopes = [{"name": scope, "backend_type": "DATABRICKS"} for scope in sorted(self.secret_scopes)]
        return {"scopes": scopes} if scopes else {}

    def secrets_list(self, scope: str) -> dict[str, Any]:
        if scope not in self.secret_scopes:
            raise does_not_exist(f"Scope {scope} does not exist!")
        keys = [{"key": key, "last_updated_timestamp": EPOCH_MS} for key in sorted(self.secret_scopes[scope])]
        return {"secrets": keys} if keys else {}

    # ---- admin API changes (emulator.workspace_objects.WorkspaceObjects.change) ----------------

    def _change_secrets(self, remove: bool, scope: str, key: str | None = None) -> None:
        if remove and key is None:
            self.secret_scopes.pop(scope, None)
        elif remove:
            self.secret_scopes.get(scope, set()).discard(key)
        else:
            keys = self.secret_scopes.setdefault(scope, set())
            if key is not None:
                keys.add(key)
