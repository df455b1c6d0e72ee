"""Model aliases (`version: "@champion"`) resolved to version numbers when the program runs.

The program asks the `servingops` plugin (`servingops:index:resolveModelVersion`, read-only, with the
stack's workspace provider) what each alias points at, before the endpoint is declared. The number is then
what the ModelServing, the preflight, readiness and rollout declare and what the outputs record: an alias
that moves shows up as a version change in the next preview. The served entity keeps its name
(`risk_classifier-champion`, components.config.ServedModelConfig.served_name), so a moved alias updates that
entity in place.

Without credentials (the offline review, a preview without DATABRICKS_*), the alias stays unresolved and
is shown so: `@champion (unresolved: no credentials)`; `pulumi up` refuses to deploy an unresolved alias. An
alias that does not exist fails the program, preview included, naming the key path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.runtime

from components.config import EndpointSpec, is_alias

RESOLVE_MODEL_VERSION = "servingops:index:resolveModelVersion"
NO_CREDENTIALS = "no credentials"


class AliasError(Exception):
    """An alias cannot be deployed: the message names the key path and why."""


@dataclass(frozen=True)
class AliasResolution:
    """One served entity declared by alias, and what the alias points at now."""

    served_name: str
    alias: str
    version: str | None
    """The version number, or None when it could not be resolved."""
    reason: str | None = None
    key_path: str = ""

    @property
    def shown(self) -> str:
        """`@champion -> 4`, or `@champion (unresolved: no credentials)`."""
        if self.version is not None:
            return f"{self.alias} -> {self.version}"
        return f"{self.alias} (unresolved: {self.reason})"


def _ask(model: str, alias: str, provider: pulumi.ProviderResource | None) -> dict[str, Any]:
    result = pulumi.runtime.invoke(
        RESOLVE_MODEL_VERSION, {"model": model, "alias": alias}, pulumi.InvokeOptions(provider=provider)
    )
    return dict(result.value or {})


def resolve_aliases(
    spec: EndpointSpec, provider: pulumi.ProviderResource | None = None
) -> tuple[EndpointSpec, dict[str, AliasResolution]]:
    """`spec` with every alias replaced by the version it points at, and what each alias resolved to.

    An endpoint without aliases is returned as it is, with no call to the plugin.
    """
    models = spec.endpoint.served_models
    if not any(is_alias(model.version) for model in models):
        return spec, {}
    resolutions: dict[str, AliasResolution] = {}
    resolved_models = []
    for index, model in enumerate(models):
        if not is_alias(model.version):
            resolved_models.append(model)
            continue
        key_path = f"endpoints.{spec.key}.served_models[{index}].version"
        try:
            answer = _ask(model.model, model.version, provider)
        except Exception as error:  # noqa: BLE001 - the invoke's failure, with the key path it is about
            raise AliasError(f"{key_path} = {model.version!r}: cannot be resolved: {error}") from None
        version, reason = answer.get("version"), answer.get("unresolved") or NO_CREDENTIALS
        resolution = AliasResolution(
            model.served_name, model.version, str(version) if version else None, None if version else reason, key_path
        )
        if resolution.version is None and reason != NO_CREDENTIALS:
            raise AliasError(f"{key_path} = {model.version!r}: {reason}; declare an alias that exists or a version")
        if resolution.version is None and not pulumi.runtime.is_dry_run():
            raise AliasError(
                f"{key_path} = {model.version!r}: cannot be resolved without workspace credentials; "
                "set DATABRICKS_HOST and a token (or databricks:host / databricks:token), or declare "
                "the version number"
            )
        resolutions[model.served_name] = resolution
        # The name is pinned, so that the entity keeps it whatever number the alias points at.
        resolved_models.append(
            model.model_copy(update={"name": model.served_name, "version": resolution.version or model.version})
        )
    endpoint = spec.endpoint.model_copy(update={"served_models": resolved_models})
    return dataclasses.replace(spec, endpoint=endpoint), resolutions
