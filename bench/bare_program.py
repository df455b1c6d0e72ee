"""Baseline for `bench.program_eval`: the same raw resources, without our components or validation.

What a user would write by hand: read the endpoints from config and declare one ModelServing and one
Permissions per endpoint, no ComponentResource, no pydantic model, no defaults resolution.
"""

import pulumi
import pulumi_databricks as databricks

config = pulumi.Config("databricks-serving")
defaults = config.get_object("defaults") or {}
for key, endpoint in config.require_object("endpoints").items():
    name = defaults.get("name_prefix", "") + key
    tags = {**defaults.get("tags", {}), **endpoint.get("tags", {})}
    serving = databricks.ModelServing(
        f"{key}-endpoint",
        name=name,
        config=databricks.ModelServingConfigArgs(
            served_entities=[
                databricks.ModelServingConfigServedEntityArgs(
                    name=f"{model['model'].rsplit('.', 1)[-1]}-{model['version']}",
                    entity_name=model["model"],
                    entity_version=str(model["version"]),
                    workload_size=model["workload_size"],
                    workload_type=model.get("workload_type", "CPU"),
                    scale_to_zero_enabled=model.get("scale_to_zero", False),
                )
                for model in endpoint["served_models"]
            ],
            traffic_config=databricks.ModelServingConfigTrafficConfigArgs(
                routes=[
                    databricks.ModelServingConfigTrafficConfigRouteArgs(
                        served_entity_name=served, traffic_percentage=share
                    )
                    for served, share in endpoint["traffic"].items()
                ]
            ),
        ),
        tags=[databricks.ModelServingTagArgs(key=k, value=v) for k, v in sorted(tags.items())],
    )
    databricks.Permissions(
        f"{key}-permissions",
        serving_endpoint_id=serving.serving_endpoint_id,
        access_controls=[
            databricks.PermissionsAccessControlArgs(
                service_principal_name=endpoint["access"]["query_service_principal"],
                permission_level="CAN_QUERY",
            )
        ],
    )
    pulumi.export(key, {"name": serving.name, "id": serving.serving_endpoint_id})
