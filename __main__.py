"""Compose the stack: one ServingEndpoint per endpoint in the stack file, and a summary of each."""

import pulumi

from components.config import load_stack_config
from components.resources import WorkspaceProvider
from components.serving_endpoint import ServingEndpoint

# Validation fails here, with every problem of the stack file, before any resource is declared.
stack_config = load_stack_config()
# The servingops plugin reaches the workspace the databricks provider does, with the same credentials.
workspace = WorkspaceProvider.from_stack_config()

for spec in stack_config.specs():
    endpoint = ServingEndpoint(spec, workspace=workspace)
    pulumi.export(
        spec.key,
        {
            "name": endpoint.endpoint_name,
            "id": endpoint.endpoint_id,
            "invocation_url": endpoint.invocation_url,
            "served_versions": endpoint.served_versions,
            "verified_versions": endpoint.verified_versions,
            "traffic": endpoint.traffic,
            "query_service_principal": spec.endpoint.access.query_service_principal,
        },
    )
