"""Compose the stack: one ServingEndpoint per endpoint in the stack file, and a summary of each."""

import gc

import pulumi

from components.aliases import resolve_aliases
from components.config import load_stack_config
from components.monitoring import declare_destinations
from components.plugin_resources import Preflight, WorkspaceProvider
from components.program import stop_quietly_on_interrupt, user_errors_as_messages
from components.serving_endpoint import ServingEndpoint

# Declaring hundreds of endpoints allocates millions of short-lived objects, and Python's cyclic collector
# at its default thresholds rescans the growing heap again and again: a third to a half of the program's
# time, and the only part that grows faster than the endpoint count (bench/README.md). The program lives
# for one deployment: keep what is loaded out of the collector's way and collect rarely.
gc.freeze()
gc.set_threshold(50_000, 50, 100)
stop_quietly_on_interrupt()

# A bad stack file or alias reaches the user as the message alone (components/program.py).
with user_errors_as_messages():
    # Validation fails here, with every problem of the stack file, before any resource is declared.
    stack_config = load_stack_config()
    # The servingops plugin reaches the workspace the databricks provider does, with the same credentials.
    workspace = WorkspaceProvider.from_stack_config()
    # Aliases (`@champion`) become version numbers, then one preflight checks every endpoint's needs, in the
    # preview too, before any endpoint changes.
    resolved = [resolve_aliases(spec, workspace) for spec in stack_config.specs()]
preflight = Preflight(
    "preflight",
    endpoints={spec.key: (spec, {name: r.shown for name, r in aliases.items()}) for spec, aliases in resolved},
    opts=pulumi.ResourceOptions(provider=workspace),
)

# Destinations are the workspace's, shared by the endpoints whose alerts notify them.
destinations = declare_destinations(stack_config)

for spec, aliases in resolved:
    endpoint = ServingEndpoint(
        spec, workspace=workspace, preflight=preflight, aliases=aliases, destinations=destinations
    )
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
            # Only for endpoints declared by alias: `@champion -> 4`, or why it is unresolved.
            **({"aliases": endpoint.aliases} if endpoint.aliases else {}),
        },
    )
