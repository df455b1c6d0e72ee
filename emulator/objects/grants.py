"""Unity Catalog grants and the effective permissions a preflight reads (databricks-sdk
`EffectivePermissionsList`): a principal's and its groups' privileges on a model, its schema and catalog."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.errors import invalid_parameter
from emulator.objects.unity_catalog import UnityCatalog


class CatalogGrants:
    """Securable -> principal -> privileges; changed through the admin API only."""

    def __init__(
        self,
        grants: Mapping[str, Mapping[str, tuple[str, ...]]],
        member_groups: Mapping[str, tuple[str, ...]],
        catalog: UnityCatalog,
    ):
        """`member_groups`: principal -> its groups; `catalog`: where a model must exist to be asked about."""
        self.grants = {
            securable: {p: set(privileges) for p, privileges in by_principal.items()}
            for securable, by_principal in grants.items()
        }
        self.member_groups = dict(member_groups)
        self.catalog = catalog

    def effective_permissions(self, securable_type: str, full_name: str, principal: str | None) -> dict[str, Any]:
        # Registered models are FUNCTION securables in Unity Catalog's grants APIs.
        if securable_type.lower() != "function":
            raise invalid_parameter(
                f"Securable type '{securable_type}' is not supported by this emulator; "
                "registered models are 'function' securables."
            )
        self.catalog.require_model(full_name)
        catalog, schema, _ = full_name.split(".")
        chain = [(full_name, None), (f"{catalog}.{schema}", "SCHEMA"), (catalog, "CATALOG")]
        granted = {holder for securable, _ in chain for holder in self.grants.get(securable, {})}
        subjects = [principal] if principal is not None else sorted(granted)
        assignments = []
        for subject in subjects:
            privileges = self._privileges(chain, {subject, *self.member_groups.get(subject, ())})
            if privileges:
                assignments.append({"principal": subject, "privileges": privileges})
        return {"privilege_assignments": assignments} if assignments else {}

    def _privileges(self, chain: list[tuple[str, str | None]], members: set[str]) -> list[dict[str, Any]]:
        """What `members` (a principal and its groups) hold along `chain`, the model then what it inherits."""
        privileges = []
        for securable, kind in chain:
            for holder in sorted(members):
                for privilege in sorted(self.grants.get(securable, {}).get(holder, ())):
                    entry: dict[str, Any] = {"privilege": privilege}
                    if kind is not None:
                        entry |= {"inherited_from_type": kind, "inherited_from_name": securable}
                    privileges.append(entry)
        return privileges

    # ---- admin API changes (emulator.workspace_objects.WorkspaceObjects.change) ----------------

    def _change_grants(self, remove: bool, securable: str, principal: str, privileges: list[str]) -> None:
        held = self.grants.setdefault(securable, {}).setdefault(principal, set())
        if remove:
            held.difference_update(privileges)
        else:
            held.update(privileges)
