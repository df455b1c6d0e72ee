"""The `ServingEndpoint` component: one governed Databricks Model Serving endpoint.

Children, each parented to the component and named from it:
- `<key>-preflight`: `EndpointPreflight`, first: read-only checks, in the preview too, that the model
  versions, principals, secrets and inference table schema exist; the endpoint depends on it, so a bad
  version fails the preview and the update before anything changes;
- `<key>-endpoint`: `databricks.ModelServing` with the served entities, traffic routes, tags, inference
  table and notifications;
- `<key>-permissions`: `databricks.Permissions` bound to the endpoint's id (not its name: the permissions
  API only accepts the id), granting CAN_QUERY to exactly one service principal and CAN_MANAGE to the
  manager groups; the resource is authoritative, so any other direct grant is removed;
- `<key>-rollout` (only with a `rollout` block): `EndpointRollout` (components.resources), after both:
  moves the candidate's traffic to its declared share step by step, with parity and health gates and
  automatic rollback. It then owns served entities and traffic: the endpoint is created with the candidate at 0% and the
  ModelServing ignores later changes to them, so Pulumi never undoes the rollout's traffic;
- `<key>-readiness`: `EndpointReadiness`, last: `pulumi up` ends when the endpoint serves as declared,
  every served entity warm, or fails with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_databricks as databricks

from components.aliases import resolve_aliases
from components.config import EndpointConfig, EndpointSpec
from components.resources import EndpointPreflight, EndpointReadiness, EndpointRollout, WorkspaceProvider

COMPONENT_TYPE = "serving:index:ServingEndpoint"
# While a rollout owns them, the ModelServing leaves these to it (schema property paths).
ROLLOUT_OWNED = ["config.servedEntities", "config.trafficConfig"]


def served_entities(endpoint: EndpointConfig) -> list[databricks.ModelServingConfigServedEntityArgs]:
    """The served entities as the provider takes them, every field explicit.

    `scale_to_zero_enabled` is always sent, false included: leaving it out lets the workspace pick and
    shows as a perpetual diff.
    """
    entities = []
    for model in endpoint.served_models:
        concurrency = model.provisioned_concurrency
        entities.append(
            databricks.ModelServingConfigServedEntityArgs(
                name=model.served_name,
                entity_name=model.model,
                entity_version=model.version,
                workload_size=model.workload_size.value if model.workload_size else None,
                workload_type=model.workload_type.value,
                scale_to_zero_enabled=model.scale_to_zero,
                environment_vars=dict(model.environment_vars) or None,
                min_provisioned_concurrency=concurrency.min if concurrency else None,
                max_provisioned_concurrency=concurrency.max if concurrency else None,
            )
        )
    return entities


def access_controls(endpoint: EndpointConfig) -> list[databricks.PermissionsAccessControlArgs]:
    """Exactly the grants the stack declares: one query principal, the manager groups."""
    grants = [
        databricks.PermissionsAccessControlArgs(
            service_principal_name=endpoint.access.query_service_principal,
            permission_level="CAN_QUERY",
        )
    ]
    grants += [
        databricks.PermissionsAccessControlArgs(group_name=group, permission_level="CAN_MANAGE")
        for group in endpoint.access.manager_groups
    ]
    return grants


def _tags(tags: Mapping[str, str]) -> list[databricks.ModelServingTagArgs]:
    # Sorted so that a reordered stack file is not a change.
    return [databricks.ModelServingTagArgs(key=key, value=tags[key]) for key in sorted(tags)]


class ServingEndpoint(pulumi.ComponentResource):
    """A Databricks serving endpoint with its served models, routes, permissions and tags.

    Outputs:
        endpoint_name: the endpoint's name in the workspace.
        endpoint_id: the endpoint's id (what permissions are bound to).
        invocation_url: the URL callers POST to.
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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the endpoint described by `spec` (a validated `EndpointSpec` from the stack config).

        `workspace` is the `servingops` provider the readiness and rollout resources use (one per stack);
        None: the plugin's default provider, which authenticates from the DATABRICKS_* variables alone.
        """
        super().__init__(COMPONENT_TYPE, spec.key, None, opts)
        # Aliases (`@champion`) become version numbers first: everything below declares the number.
        spec, resolutions = resolve_aliases(spec, workspace)
        self.aliases = {name: resolution.shown for name, resolution in resolutions.items()}
        for resolution in resolutions.values():  # on the endpoint's row of the preview: `... version: @champion -> 4`
            pulumi.log.info(f"{resolution.key_path}: {resolution.shown}", resource=self)
        endpoint = spec.endpoint
        child = pulumi.ResourceOptions(parent=self)

        self.preflight = EndpointPreflight(
            f"{spec.key}-preflight", spec=spec, aliases=self.aliases,
            opts=pulumi.ResourceOptions(parent=self, provider=workspace),
        )

        capture = endpoint.inference_table
        notifications = endpoint.notifications
        self.endpoint = databricks.ModelServing(
            f"{spec.key}-endpoint",
            name=spec.name,
            description=endpoint.description,
            config=databricks.ModelServingConfigArgs(
                served_entities=served_entities(endpoint),
                traffic_config=databricks.ModelServingConfigTrafficConfigArgs(
                    routes=[
                        databricks.ModelServingConfigTrafficConfigRouteArgs(
                            served_entity_name=served, traffic_percentage=share
                        )
                        for served, share in endpoint.start_routes.items()
                    ]
                ),
                auto_capture_config=databricks.ModelServingConfigAutoCaptureConfigArgs(
                    enabled=True,
                    catalog_name=capture.catalog,
                    schema_name=capture.schema_,
                    table_name_prefix=capture.table_prefix or spec.name,
                )
                if capture
                else None,
            ),
            tags=_tags(spec.tags),
            email_notifications=databricks.ModelServingEmailNotificationsArgs(
                on_update_successes=notifications.on_update_success or None,
                on_update_failures=notifications.on_update_failure or None,
            )
            if notifications
            else None,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=ROLLOUT_OWNED if endpoint.rollout else None,
                                        depends_on=[self.preflight]),
        )

        self.permissions = databricks.Permissions(
            f"{spec.key}-permissions",
            serving_endpoint_id=self.endpoint.serving_endpoint_id,
            access_controls=access_controls(endpoint),
            opts=child,
        )

        applied: list[pulumi.Resource] = [self.endpoint, self.permissions]
        self.rollout: EndpointRollout | None = None
        if endpoint.rollout:
            self.rollout = EndpointRollout(
                f"{spec.key}-rollout",
                spec=spec,
                endpoint_name=self.endpoint.name,
                endpoint_id=self.endpoint.serving_endpoint_id,
                opts=pulumi.ResourceOptions(parent=self, depends_on=applied, provider=workspace),
            )
            applied = [*applied, self.rollout]

        self.readiness = EndpointReadiness(
            f"{spec.key}-readiness",
            spec=spec,
            endpoint_name=self.endpoint.name,
            endpoint_id=self.endpoint.serving_endpoint_id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=applied, provider=workspace),
        )

        self.endpoint_name = self.endpoint.name
        self.endpoint_id = self.endpoint.serving_endpoint_id
        self.invocation_url = self.endpoint.endpoint_url
        self.verified_versions = self.readiness.verified_versions
        self.served_versions = {model.served_name: model.version for model in endpoint.served_models}
        self.traffic = dict(endpoint.routes)
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_id": self.endpoint_id,
                "invocation_url": self.invocation_url,
                "verified_versions": self.verified_versions,
                "served_versions": self.served_versions,
                "traffic": self.traffic,
                "aliases": self.aliases,
            }
        )
