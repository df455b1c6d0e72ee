"""The legacy workspace Model Registry as a preflight reads it (databricks-sdk ml `GetModelVersionResponse`,
`GetLatestVersionsResponse`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from emulator.errors import does_not_exist
from emulator.objects.ids import EPOCH_MS
from emulator.objects.unity_catalog import VersionStatus

Stage = Literal["None", "Staging", "Production", "Archived"]


class RegistryVersionSpec(BaseModel):
    """A version of a legacy workspace Model Registry model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: VersionStatus = "READY"
    stage: Stage = "None"


class WorkspaceModelRegistry:
    """Registered models -> version -> {status, stage}; changed through the admin API only."""

    def __init__(self, models: Mapping[str, Mapping[str, RegistryVersionSpec]]):
        self.registry = {model: {v: s.model_dump() for v, s in versions.items()} for model, versions in models.items()}

    def _registry_version(self, model: str, version: str) -> dict[str, Any]:
        spec = self.registry[model][version]
        return {
            "name": model,
            "version": version,
            "current_stage": spec["stage"],
            "status": spec["status"],
            "last_updated_timestamp": EPOCH_MS,
        }

    def registry_version(self, model: str, version: str) -> dict[str, Any]:
        if model not in self.registry:
            raise does_not_exist(f"Registered Model with name={model} not found")
        if version not in self.registry[model]:
            raise does_not_exist(f"Model Version (name={model}, version={version}) not found")
        return {"model_version": self._registry_version(model, version)}

    def latest_versions(self, model: str, stages: list[str] | None) -> dict[str, Any]:
        if model not in self.registry:
            raise does_not_exist(f"Registered Model with name={model} not found")
        latest: dict[str, str] = {}
        for version, spec in self.registry[model].items():
            stage = spec["stage"]
            if stage not in latest or int(version) > int(latest[stage]):
                latest[stage] = version
        wanted = {stage.lower() for stage in stages} if stages else None
        found = [
            self._registry_version(model, version)
            for stage, version in sorted(latest.items())
            if wanted is None or stage.lower() in wanted
        ]
        return {"model_versions": found} if found else {}

    # ---- admin API changes (emulator.workspace_objects.WorkspaceObjects.change) ----------------

    def _change_registry_versions(
        self, remove: bool, model: str, version: str, status: str = "READY", stage: str = "None"
    ) -> None:
        if remove:
            self.registry.get(model, {}).pop(version, None)
        else:
            spec = RegistryVersionSpec.model_validate({"status": status, "stage": stage})
            self.registry.setdefault(model, {})[version] = spec.model_dump()
