"""The `ServingEndpoint` component: one governed Databricks Model Serving endpoint.

Children, each parented to the component and named from it:
- (not a child: the stack's one `Preflight`, passed in, which the endpoint depends on: read-only checks, in
  the preview too, that model versions, principals, secrets and tables exist, so a bad version fails the
  preview and the update before anything changes);
- `<key>-endpoint`: `databricks.ModelServing` with the served entities, traffic routes, tags and AI Gateway
  (rate limits, usage tracking, fallback, inference table). pulumi-databricks updates an existing endpoint's
  `config`, `tags` and `ai_gateway` only: the description and notifications it sends at creation are then
  ignored (no perpetual diff), and `route_optimized` or, when opted in, the description recreate it;
- `<key>-deployment`: `EndpointDeployment` (components.plugin_resources), beside the endpoint (after the preflight,
  not after the endpoint): follows each deployment pulumi-databricks makes and puts the served entity, its
  message and the build log's tail on the endpoint's row when it fails (that provider says only
  UPDATE_FAILED, and deletes a failed new endpoint);
- `<key>-permissions`: `databricks.Permissions` bound to the endpoint's id (not its name: the permissions
  API only accepts the id), granting CAN_QUERY to the query service principal, CAN_MANAGE to the manager
  groups and the `access.grants` the stack declares beyond them; the resource is authoritative, so any other
  direct grant is removed;
- `<key>-rollout` (only with a `rollout` block): `EndpointRollout` (components.plugin_resources), after both:
  moves the candidate's traffic to its declared share step by step, with parity and health gates and
  automatic rollback. It then owns served entities and traffic: the endpoint is created with the candidate at 0% and the
  ModelServing ignores later changes to them, so Pulumi never undoes the rollout's traffic;
- `<key>-notifications` (only with a `notifications` block): `EndpointNotifications`, after the endpoint:
  applies the e-mail notifications to an existing endpoint too (PATCH .../notifications);
- `<key>-readiness`: `EndpointReadiness`, last: `pulumi up` ends when the endpoint serves as declared,
  every served entity warm, or fails with the reason;
- `<key>-alert-*`, `<key>-drift-monitor` (only with a `monitoring` block): components.monitoring.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_databricks as databricks

from components.aliases import AliasResolution, resolve_aliases
from components.config import (
    RATE_LIMIT_RENEWAL_PERIOD,
    EndpointConfig,
    EndpointSpec,
    GuardrailConfig,
    GuardrailsConfig,
    PermissionLevel,
    PrincipalKind,
)
from components.monitoring import EndpointMonitoring, declare_monitoring
from components.plugin_resources import (
    EndpointDeployment,
    EndpointNotifications,
    EndpointReadiness,
    EndpointRollout,
    WorkspaceProvider,
)

COMPONENT_TYPE = "serving:index:ServingEndpoint"
# While a rollout owns them, the ModelServing leaves these to it (schema property paths).
ROLLOUT_OWNED = ["config.servedEntities", "config.trafficConfig"]
DEPLOYMENT_ROLLOUT_OWNED = ["served_entities", "traffic"]
# Sent at creation, never on update by pulumi-databricks: ignored afterwards so that a change is not a diff
# planned on every preview and applied never. Notifications are applied by `<key>-notifications` instead.
# `config.autoCaptureConfig` is the legacy inference table: the component never declares it, and an endpoint
# created with one keeps its recorded value, because dropping it would make the provider replace the
# endpoint (the auto-capture catalog, schema and prefix force a new endpoint).
# `budgetPolicyId` too: pulumi-databricks sends it at creation only (resource_model_serving.go, Update).
SET_AT_CREATION = ["emailNotifications", "config.autoCaptureConfig", "budgetPolicyId"]
DESCRIPTION = "description"


def workspace_host() -> str | None:
    """The workspace URL of the running stack: its `databricks:host`, else DATABRICKS_HOST (as pulumi-databricks)."""
    return pulumi.Config("databricks").get("host") or os.environ.get("DATABRICKS_HOST")


def invocations_url(host: str | None, endpoint_name: str) -> str:
    """Where a standard (not route-optimized) endpoint is queried: `{host}/serving-endpoints/{name}/invocations`.

    Databricks fills `endpoint_url` only for route-optimized endpoints. Without any host, the path alone.
    """
    base = (host or "").strip().rstrip("/")
    if base and "://" not in base:
        base = f"https://{base}"  # as databricks-sdk reads a host without a scheme
    return f"{base}/serving-endpoints/{endpoint_name}/invocations"


def served_entities(endpoint: EndpointConfig) -> list[databricks.ModelServingConfigServedEntityArgs]:
    """The served entities as the provider takes them, every field explicit.

    `scale_to_zero_enabled` is always sent, false included: leaving it out lets the workspace pick and
    shows as a perpetual diff. A foundation model on provisioned throughput gets no workload type: Databricks
    picks its compute. External models: `external_served_entities`.
    """
    entities = []
    for model in endpoint.served_models:
        concurrency, throughput = model.provisioned_concurrency, model.provisioned_throughput
        entities.append(
            databricks.ModelServingConfigServedEntityArgs(
                name=model.served_name,
                entity_name=model.model,
                entity_version=model.version,
                workload_size=model.workload_size.value if model.workload_size else None,
                workload_type=None if model.provisioned_throughput_entity else model.workload_type.value,
                scale_to_zero_enabled=model.scale_to_zero,
                environment_vars=dict(model.environment_vars) or None,
                min_provisioned_concurrency=concurrency.min if concurrency else None,
                max_provisioned_concurrency=concurrency.max if concurrency else None,
                min_provisioned_throughput=throughput.min if throughput else None,
                max_provisioned_throughput=throughput.max if throughput else None,
                provisioned_model_units=model.provisioned_model_units,
                burst_scaling_enabled=model.burst_scaling,
                instance_profile_arn=model.instance_profile_arn,
            )
        )
    return entities + external_served_entities(endpoint)


def external_served_entities(endpoint: EndpointConfig) -> list[databricks.ModelServingConfigServedEntityArgs]:
    """The external models as served entities: name, provider, task and the provider's config block.

    The config goes to `<provider>_config` (`openai_config`, ...) with the keys as written: the config model
    admits only the keys the SDK names, credentials only as `{{secrets/...}}` references, so nothing here is a
    secret. No workload size, type or scale to zero: Databricks refuses them beside an external model.
    """
    return [
        databricks.ModelServingConfigServedEntityArgs(
            name=external.served_name,
            external_model=databricks.ModelServingConfigServedEntityExternalModelArgs(
                name=external.model,
                provider=external.provider.value,
                task=external.task.value,
                **{external.config_field: dict(external.config)},  # type: ignore[arg-type]  # dicts stand for Args
            ),
        )
        for external in endpoint.external_models
    ]


def access_controls(endpoint: EndpointConfig) -> list[databricks.PermissionsAccessControlArgs]:
    """Exactly the grants the stack declares: the query principal, the manager groups, then `access.grants`.

    The query principal comes first: the policy pack takes the first service principal with CAN_QUERY for
    the one the secure default allows.
    """
    access = endpoint.access
    grants = [
        databricks.PermissionsAccessControlArgs(
            service_principal_name=access.query_service_principal,
            permission_level=PermissionLevel.CAN_QUERY.value,
        )
    ]
    grants += [
        databricks.PermissionsAccessControlArgs(group_name=group, permission_level=PermissionLevel.CAN_MANAGE.value)
        for group in access.manager_groups
    ]
    grants += [
        databricks.PermissionsAccessControlArgs(
            permission_level=grant.level.value, **{GRANT_PRINCIPAL_FIELDS[grant.kind]: grant.principal}
        )
        for grant in access.grants
    ]
    return grants


GRANT_PRINCIPAL_FIELDS: dict[PrincipalKind, str] = {
    PrincipalKind.SERVICE_PRINCIPAL: "service_principal_name",
    PrincipalKind.GROUP: "group_name",
    PrincipalKind.USER: "user_name",
}
"""The pulumi-databricks `PermissionsAccessControlArgs` field each kind of principal is declared in."""


def ai_gateway(spec: EndpointSpec) -> databricks.ModelServingAiGatewayArgs | None:
    """The endpoint's AI Gateway: rate limits, usage tracking, fallback and the inference table.

    The inference table goes here, never to the legacy `config.auto_capture_config`. pulumi-databricks applies
    a change with PUT .../ai-gateway, which replaces the whole gateway config: a feature left out is off. So
    usage tracking and fallback are sent only when on (an explicit `enabled: false` the workspace may not echo
    back would be a diff on every preview); the inference table is sent with its `enabled` flag, because a
    disabled table keeps its catalog, schema and prefix. None when the endpoint declares neither.
    """
    endpoint = spec.endpoint
    gateway, table = endpoint.ai_gateway, endpoint.inference_table
    if gateway is None and table is None:
        return None
    inference_table = (
        databricks.ModelServingAiGatewayInferenceTableConfigArgs(
            enabled=table.enabled,
            catalog_name=table.catalog,
            schema_name=table.schema_,
            table_name_prefix=table.table_prefix or spec.name,
        )
        if table
        else None
    )
    if gateway is None:
        return databricks.ModelServingAiGatewayArgs(inference_table_config=inference_table)
    return databricks.ModelServingAiGatewayArgs(
        inference_table_config=inference_table,
        rate_limits=[
            databricks.ModelServingAiGatewayRateLimitArgs(
                calls=limit.calls,
                key=limit.key.value,
                principal=limit.principal,
                renewal_period=RATE_LIMIT_RENEWAL_PERIOD,
            )
            for limit in gateway.rate_limits
        ]
        or None,
        usage_tracking_config=databricks.ModelServingAiGatewayUsageTrackingConfigArgs(enabled=True)
        if gateway.usage_tracking
        else None,
        fallback_config=databricks.ModelServingAiGatewayFallbackConfigArgs(enabled=True) if gateway.fallback else None,
        guardrails=guardrails(gateway.guardrails),
    )


def guardrails(config: GuardrailsConfig | None) -> databricks.ModelServingAiGatewayGuardrailsArgs | None:
    """The AI Gateway guardrails, each side only when declared; PII behaviour as Databricks spells it."""
    if config is None:
        return None

    def side(rails: GuardrailConfig | None) -> dict[str, Any] | None:
        if rails is None:
            return None
        return {
            "safety": rails.safety,
            "pii": {"behavior": rails.pii.value} if rails.pii else None,
            "invalid_keywords": list(rails.invalid_keywords) or None,
            "valid_topics": list(rails.valid_topics) or None,
        }

    return databricks.ModelServingAiGatewayGuardrailsArgs(
        input=side(config.input),  # type: ignore[arg-type]  # the Args' TypedDict twin
        output=side(config.output),  # type: ignore[arg-type]
    )


def endpoint_options(endpoint: EndpointConfig) -> tuple[list[str], list[str]]:
    """The ModelServing's `ignore_changes` and `replace_on_changes` (schema property paths).

    The description is ignored after creation, unless the endpoint opts into recreation for it.
    """
    ignored = list(SET_AT_CREATION)
    replaced = []
    if endpoint.recreate_on_description_change:
        replaced.append(DESCRIPTION)
    else:
        ignored.append(DESCRIPTION)
    if endpoint.rollout:
        ignored += ROLLOUT_OWNED
    return ignored, replaced


def _tags(tags: Mapping[str, str]) -> list[databricks.ModelServingTagArgs]:
    # Sorted so that a reordered stack file is not a change.
    return [databricks.ModelServingTagArgs(key=key, value=tags[key]) for key in sorted(tags)]


def model_serving_config(endpoint: EndpointConfig) -> databricks.ModelServingConfigArgs:
    """The ModelServing's `config`: the served entities and the routes it is created with."""
    routes = [
        databricks.ModelServingConfigTrafficConfigRouteArgs(served_entity_name=served, traffic_percentage=share)
        for served, share in endpoint.start_routes.items()
    ]
    return databricks.ModelServingConfigArgs(
        served_entities=served_entities(endpoint),
        traffic_config=databricks.ModelServingConfigTrafficConfigArgs(routes=routes),
    )


def email_notifications(endpoint: EndpointConfig) -> databricks.ModelServingEmailNotificationsArgs | None:
    """The notifications pulumi-databricks sends at creation (`<key>-notifications` applies later changes)."""
    notifications = endpoint.notifications
    if not notifications:
        return None
    return databricks.ModelServingEmailNotificationsArgs(
        on_update_successes=notifications.on_update_success or None,
        on_update_failures=notifications.on_update_failure or None,
    )


def endpoint_invocation_url(
    model_serving: databricks.ModelServing, route_optimized: bool, host: str | None
) -> pulumi.Output[str]:
    """Where callers POST: a route-optimized endpoint's own URL, else the workspace's (`host`, None: the stack's)."""
    if route_optimized:
        # Databricks fills endpoint_url only for route-optimized endpoints, queried there with OAuth.
        return model_serving.endpoint_url
    base = host if host is not None else workspace_host()
    return model_serving.name.apply(lambda name: invocations_url(base, name))


OUTPUTS = (
    "endpoint_name",
    "endpoint_id",
    "invocation_url",
    "verified_versions",
    "served_versions",
    "traffic",
    "aliases",
)
"""The component's outputs, registered in this order."""


def _with_aliases_resolved(
    spec: EndpointSpec,
    aliases: Mapping[str, AliasResolution] | None,
    workspace: WorkspaceProvider | None,
    endpoint: pulumi.Resource,
) -> tuple[EndpointSpec, dict[str, str]]:
    """`spec` declaring version numbers, and each alias as shown (`@champion -> 4`) by served entity name."""
    if aliases is None:
        spec, resolutions = resolve_aliases(spec, workspace)
    else:
        resolutions = dict(aliases)
    for resolution in resolutions.values():  # on the endpoint's row of the preview: `... version: @champion -> 4`
        pulumi.log.info(f"{resolution.key_path}: {resolution.shown}", resource=endpoint)
    return spec, {name: resolution.shown for name, resolution in resolutions.items()}


class ServingEndpoint(pulumi.ComponentResource):
    """A Databricks serving endpoint with its served models, routes, permissions and tags.

    Outputs:
        endpoint_name: the endpoint's name in the workspace.
        endpoint_id: the endpoint's id (what permissions are bound to).
        invocation_url: the URL callers POST to: a route-optimized endpoint's own `endpoint_url`, otherwise
            `{workspace host}/serving-endpoints/{name}/invocations`.
        verified_versions: served entity name -> model version, as verified serving after the last change.
        served_versions: served entity name -> model version, as declared (an alias resolved to its number).
        aliases: served entity name -> its alias and what it resolved to (`@champion -> 4`); {} without aliases.
        traffic: served entity name -> percentage of the endpoint's traffic, as declared.

    `served_versions` and `traffic` are known when the program runs, so they are plain values: wrapping
    them in Outputs costs more than the rest of the component (see bench/README.md).
    """

    endpoint_name: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]
    invocation_url: pulumi.Output[str]
    verified_versions: pulumi.Output[dict[str, str]]
    served_versions: dict[str, str]
    traffic: dict[str, int]
    aliases: dict[str, str]

    def __init__(
        self,
        spec: EndpointSpec,
        *,
        workspace: WorkspaceProvider | None = None,
        preflight: pulumi.Resource | None = None,
        aliases: Mapping[str, AliasResolution] | None = None,
        host: str | None = None,
        destinations: Mapping[str, pulumi.Input[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the endpoint described by `spec` (a validated `EndpointSpec` from the stack config).

        `workspace` is the `servingops` provider the readiness, rollout and notifications resources use (one
        per stack); None: the plugin's default provider, which authenticates from the DATABRICKS_* variables
        alone. `preflight`: the stack's `Preflight`, which the endpoint waits for. `aliases`: how the aliases
        of `spec` resolved, when the caller resolved them already (`resolve_aliases`: `spec` then declares the
        numbers); None: they are resolved here. `host` is the workspace URL, for the invocation URL of an
        endpoint that is not route-optimized; None: the stack's (`workspace_host()`). `destinations`: the ids
        of the stack's notification destinations by name (`declare_destinations`), which `monitoring` notifies.
        """
        super().__init__(COMPONENT_TYPE, spec.key, None, opts)
        self._workspace = workspace
        # Aliases (`@champion`) become version numbers first: everything below declares the number.
        spec, self.aliases = _with_aliases_resolved(spec, aliases, workspace, self)
        self.endpoint = self._model_serving(spec, preflight)
        self.deployment = self._deployment(spec, preflight)
        self.permissions = self._permissions(spec)
        self.notifications = self._notifications(spec)
        self.rollout = self._rollout(spec)
        self.readiness = self._readiness(spec)
        self.monitoring: EndpointMonitoring | None = declare_monitoring(
            spec, parent=self, endpoint=self.endpoint, destinations=destinations or {}
        )
        self.endpoint_name = self.endpoint.name
        self.endpoint_id = self.endpoint.serving_endpoint_id
        self.invocation_url = endpoint_invocation_url(self.endpoint, spec.endpoint.route_optimized, host)
        self.verified_versions = self.readiness.verified_versions
        self.served_versions = {model.served_name: model.version for model in spec.endpoint.served_models}
        self.traffic = dict(spec.endpoint.routes)
        self.register_outputs({name: getattr(self, name) for name in OUTPUTS})

    def _model_serving(self, spec: EndpointSpec, preflight: pulumi.Resource | None) -> databricks.ModelServing:
        ignored, replaced = endpoint_options(spec.endpoint)
        return databricks.ModelServing(
            f"{spec.key}-endpoint",
            name=spec.name,
            description=spec.endpoint.description,
            budget_policy_id=spec.endpoint.budget_policy_id,
            route_optimized=spec.endpoint.route_optimized,
            ai_gateway=ai_gateway(spec),
            config=model_serving_config(spec.endpoint),
            tags=_tags(spec.tags),
            email_notifications=email_notifications(spec.endpoint),
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=ignored,
                replace_on_changes=replaced or None,
                # The name is fixed: a replacement cannot create the new endpoint before the old one is gone.
                delete_before_replace=True,
                # Preflight first: a version that is not READY fails the preview and the update before anything.
                depends_on=[preflight] if preflight is not None else None,
            ),
        )

    def _deployment(self, spec: EndpointSpec, preflight: pulumi.Resource | None) -> EndpointDeployment:
        # Beside the endpoint, not after it: it reads why a deployment fails while pulumi-databricks makes it,
        # and changes exactly when the ModelServing sends a config (a rollout owns later changes to both).
        return EndpointDeployment(
            f"{spec.key}-deployment",
            spec=spec,
            endpoint_resource=f"{spec.key}-endpoint",
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self._workspace,
                ignore_changes=DEPLOYMENT_ROLLOUT_OWNED if spec.endpoint.rollout else None,
                depends_on=[preflight] if preflight is not None else None,
            ),
        )

    def _permissions(self, spec: EndpointSpec) -> databricks.Permissions:
        return databricks.Permissions(
            f"{spec.key}-permissions",
            serving_endpoint_id=self.endpoint.serving_endpoint_id,
            access_controls=access_controls(spec.endpoint),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _notifications(self, spec: EndpointSpec) -> EndpointNotifications | None:
        notifications = spec.endpoint.notifications
        if not notifications:
            return None
        return EndpointNotifications(
            f"{spec.key}-notifications",
            endpoint_name=self.endpoint.name,
            on_update_success=notifications.on_update_success,
            on_update_failure=notifications.on_update_failure,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.endpoint], provider=self._workspace),
        )

    def _rollout(self, spec: EndpointSpec) -> EndpointRollout | None:
        if not spec.endpoint.rollout:
            return None
        return EndpointRollout(
            f"{spec.key}-rollout",
            spec=spec,
            endpoint_name=self.endpoint.name,
            endpoint_id=self.endpoint.serving_endpoint_id,
            # After the endpoint and its permissions: the rollout queries the endpoint as its callers do.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.endpoint, self.permissions], provider=self._workspace
            ),
        )

    def _readiness(self, spec: EndpointSpec) -> EndpointReadiness:
        # Last: the endpoint serves as declared only once its permissions and any rollout are applied.
        applied: list[pulumi.Resource] = [self.endpoint, self.permissions]
        if self.rollout is not None:
            applied.append(self.rollout)
        return EndpointReadiness(
            f"{spec.key}-readiness",
            spec=spec,
            endpoint_name=self.endpoint.name,
            endpoint_id=self.endpoint.serving_endpoint_id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=applied, provider=self._workspace),
        )
