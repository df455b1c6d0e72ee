"""Emulator settings: durations, principals, the model registry and the admin token.

One pydantic model, loadable from YAML (`load_settings(path)`) or keyword arguments
(`EmulatorSettings(update_seconds=0.2)`), so tests can shrink every duration to fractions of a
second while a developer running `python -m emulator` gets values closer to a real workspace.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from emulator.monitoring import MonitoringSpec
from emulator.signature import MLFLOW_TYPES
from emulator.workspace_objects import WorkspaceObjectsSpec

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
ADMINS_GROUP = "admins"
"""Members of this group may do anything on any endpoint, like Databricks workspace admins."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrincipalSpec(_Strict):
    """Who a bearer token stands for."""

    principal: str = Field(description="user name (email) or service principal application id (UUID)")
    kind: Literal["user", "service_principal"] = "user"
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return ADMINS_GROUP in self.groups


class ModelVersionSpec(_Strict):
    """One registered version. Predictions come from `weights` (+ `bias`), else from `same_as`'s
    weights, else from weights derived from a hash of (model, version)."""

    weights: dict[str, float] | None = None
    bias: float = 0.0
    same_as: str | None = Field(default=None, description="another version whose predictions this one repeats")
    signature: dict[str, str] | None = Field(
        default=None,
        description="this version's own signature (MLflow signatures belong to versions); default: the model's",
    )


class RegisteredModelSpec(_Strict):
    """A Unity Catalog model: its numeric input columns and its registered versions.

    `signature`: column -> MLflow type (`long`, `double`, ...), enforced on every invocation as MLflow does
    (emulator.signature); none: the columns must be present and numeric, whatever their JSON type."""

    columns: tuple[str, ...] = Field(min_length=1)
    versions: dict[str, ModelVersionSpec] = Field(default_factory=dict)
    signature: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _columns_from_signature(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("signature") and not value.get("columns"):
            return {**value, "columns": tuple(value["signature"])}
        return value

    @field_validator("versions", mode="before")
    @classmethod
    def _versions_from_list(cls, value: Any) -> Any:
        # YAML convenience: `versions: [1, 2, 3]` means plain versions with hashed weights.
        if isinstance(value, (list, tuple)):
            return {str(v): {} for v in value}
        if isinstance(value, dict):
            return {str(k): (v or {}) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _check_versions(self) -> RegisteredModelSpec:
        for version, spec in self.versions.items():
            if spec.same_as is not None and spec.same_as not in self.versions:
                raise ValueError(f"version {version}: same_as {spec.same_as!r} is not a registered version")
            if spec.weights is not None and set(spec.weights) != set(self.columns):
                raise ValueError(f"version {version}: weights must name exactly the columns {list(self.columns)}")
        signatures = {
            "the signature": self.signature,
            **{f"version {version}'s signature": spec.signature for version, spec in self.versions.items()},
        }
        for what, signature in signatures.items():
            if signature is None:
                continue
            if set(signature) != set(self.columns):
                raise ValueError(f"{what} must type exactly the columns {list(self.columns)}")
            unknown = {column: kind for column, kind in signature.items() if kind not in MLFLOW_TYPES}
            if unknown:
                raise ValueError(f"{what}: {unknown} are not MLflow types ({', '.join(MLFLOW_TYPES)})")
        return self


def default_models() -> dict[str, RegisteredModelSpec]:
    """A small registry: version 4 of the risk classifier repeats version 3, so a parity check between
    two versions can be made to pass (3 vs 4) or to fail (2 vs 3)."""
    return {
        # Signatures as MLflow infers them from a pandas sample: whole numbers `long`, the others `double`.
        "main.risk.risk_classifier": RegisteredModelSpec(
            columns=("amount", "age", "income"),
            signature={"amount": "double", "age": "long", "income": "double"},
            versions={
                "1": ModelVersionSpec(),
                "2": ModelVersionSpec(),
                "3": ModelVersionSpec(),
                "4": ModelVersionSpec(same_as="3"),
            },
        ),
        "main.fraud.fraud_scorer": RegisteredModelSpec(
            columns=("amount", "merchant_risk", "hour"),
            signature={"amount": "double", "merchant_risk": "double", "hour": "long"},
            versions={"1": ModelVersionSpec(), "2": ModelVersionSpec()},
        ),
        "main.recs.recommender": RegisteredModelSpec(
            columns=("user_score", "item_score"),
            signature={"user_score": "double", "item_score": "double"},
            versions={"7": ModelVersionSpec()},
        ),
    }


def default_tokens() -> dict[str, PrincipalSpec]:
    """Well-known tokens for local use only: the server listens on loopback and holds no data."""
    return {
        "dapi-emulator-admin": PrincipalSpec(principal="admin@example.com", kind="user", groups=(ADMINS_GROUP,)),
        "dapi-emulator-deployer": PrincipalSpec(
            principal="6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01", kind="service_principal"
        ),
        "dapi-emulator-user": PrincipalSpec(principal="analyst@example.com", kind="user"),
    }


class OAuthClientSpec(_Strict):
    """A service principal's OAuth secret (machine-to-machine): its client id is the key it is stored
    under in `oauth_clients`, and is also its application id, the principal it acts as."""

    client_secret: str = Field(min_length=8, repr=False)
    groups: tuple[str, ...] = ()

    def principal(self, client_id: str) -> PrincipalSpec:
        return PrincipalSpec(principal=client_id, kind="service_principal", groups=self.groups)


def default_oauth_clients() -> dict[str, OAuthClientSpec]:
    """The deploying service principal also holds an OAuth secret (local use only, like the tokens)."""
    return {"6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01": OAuthClientSpec(client_secret="emulator-deployer-oauth-secret")}


class EmulatorSettings(_Strict):
    """Everything the emulator can be told. Durations are seconds (floats)."""

    update_seconds: float = Field(default=2.0, ge=0, description="how long a create/config update stays IN_PROGRESS")
    cold_start_seconds: float = Field(
        default=3.0, ge=0, description="wait of a request hitting a scaled-to-zero entity"
    )
    model_load_seconds: float = Field(default=0.5, ge=0, description="first request to a freshly deployed entity")
    scale_to_zero_idle_seconds: PositiveFloat = Field(
        default=30.0, description="a scale-to-zero entity without invocations for this long goes cold"
    )
    max_request_bytes: int = Field(default=16 * 1024 * 1024, gt=0, description="invocation body limit (16 MB)")
    routing: Literal["random", "round_robin"] = Field(
        default="random", description="random: weighted random draw, seeded; round_robin: smooth weighted round-robin"
    )
    routing_seed: int = 0
    workspace_id: str = "1234567890123456"
    # repr=False: tokens must not surface in logs or test reports through a printed settings object.
    admin_token: str = Field(default_factory=lambda: "emu-" + secrets.token_hex(16), min_length=8, repr=False)
    tokens: dict[str, PrincipalSpec] = Field(default_factory=default_tokens, repr=False)
    oauth_clients: dict[str, OAuthClientSpec] = Field(default_factory=default_oauth_clients, repr=False)
    oauth_token_seconds: PositiveFloat = Field(default=3600.0, description="lifetime of an issued OAuth token")
    metrics_window_seconds: PositiveFloat = Field(
        default=60.0, description="the metrics export shows values over this trailing window (Databricks: a minute)"
    )
    rate_limit_period_seconds: PositiveFloat = Field(
        default=60.0, description="length of an AI Gateway rate-limit `renewal_period: minute`"
    )
    models: dict[str, RegisteredModelSpec] = Field(default_factory=default_models)
    workspace_objects: WorkspaceObjectsSpec = Field(
        default_factory=WorkspaceObjectsSpec,
        description="what a preflight reads: aliases, version states, registry models, principals, secrets, schemas",
    )
    monitoring: MonitoringSpec = Field(
        default_factory=MonitoringSpec,
        description="SQL warehouses and tables that alerts and quality monitors can use (emulator.monitoring)",
    )

    @field_validator("models")
    @classmethod
    def _check_model_names(cls, value: dict[str, RegisteredModelSpec]) -> dict[str, RegisteredModelSpec]:
        bad = [name for name in value if not MODEL_NAME_PATTERN.match(name)]
        if bad:
            raise ValueError(f"model names must be catalog.schema.model: {bad}")
        return value

    @model_validator(mode="after")
    def _admin_token_is_not_a_workspace_token(self) -> EmulatorSettings:
        if self.admin_token in self.tokens:
            raise ValueError("admin_token must differ from every workspace token")
        return self

    @model_validator(mode="after")
    def _oauth_clients_are_service_principals(self) -> EmulatorSettings:
        users = {p.principal for p in self.tokens.values() if p.kind == "user"}
        clashing = sorted(users & set(self.oauth_clients))
        if clashing:
            raise ValueError(f"oauth_clients are service principals; these ids are users in tokens: {clashing}")
        return self

    def with_overrides(self, **overrides: Any) -> EmulatorSettings:
        """A copy with some fields replaced, validated again."""
        return EmulatorSettings.model_validate({**self.model_dump(), **overrides})


def load_settings(path: str | Path | None = None, **overrides: Any) -> EmulatorSettings:
    """Settings from a YAML file (optional) with keyword overrides on top."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: the settings file must hold a mapping")
        data.update(loaded)
    data.update(overrides)
    return EmulatorSettings.model_validate(data)
