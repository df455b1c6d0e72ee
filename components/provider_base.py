"""What the project's dynamic providers share: a workspace client that is never pickled, the phase
the program runs in, and a provider pickled once per program."""

from __future__ import annotations

import sys
from typing import Any

import pulumi
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown

from components.verification import PollPolicy
from components.workspace import ServingClient

PREVIEW, APPLY = "preview", "apply"
"""The `phase` input: the program tells `check` whether this is a preview, when nothing may be sent."""


def phase() -> str:
    return PREVIEW if pulumi.runtime.is_dry_run() else APPLY


def log(line: str) -> None:
    # The engine shows what a provider writes to stderr while the resource is being created.
    print(line, file=sys.stderr, flush=True)


def has_unknowns(value: Any) -> bool:
    """Whether a value (during a preview) holds anything not known yet."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(has_unknowns(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknowns(item) for item in value)
    return False


class WorkspaceProvider(ResourceProvider):
    """A dynamic provider that talks to the workspace.

    Args:
        policy: polling cadence; the default polls like databricks-sdk's waiter.

    The provider object is pickled into the state (`__provider`): it holds nothing but its poll policy.
    The engine hands the decrypted stack config to `configure` inside the provider host; the client
    built from it lives only in that process and is never pickled, returned, logged or put in an error.
    """

    def __init__(self, policy: PollPolicy | None = None):
        super().__init__()
        self.policy = policy or PollPolicy()
        self._client: ServingClient | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"policy": self.policy}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.policy = state["policy"]
        self._client = None

    def configure(self, req: ConfigureRequest) -> None:
        self._client = ServingClient.from_stack_config(req.config.get)

    @property
    def client(self) -> ServingClient:
        if self._client is None:
            # Outside the engine (tests that skip Configure): environment variables and profiles only.
            self._client = ServingClient.from_stack_config(lambda key: None)
        return self._client


_SERIALIZED: dict[int, tuple[ResourceProvider, str]] = {}


def serialized_once(provider: ResourceProvider) -> pulumi.Output[str]:
    """The provider pickled once per instance, not once per resource, stored as a secret (as the sdk does).

    pulumi 3.272's `serialize_provider` wraps `pickle._Pickler._batch_setitems` anew on every call and
    never restores it, so each call sorts every dict once more than the last: quadratic in the number
    of dynamic resources, and a RecursionError past ~470 of them in one process.
    """
    cached = _SERIALIZED.get(id(provider))
    if cached is None or cached[0] is not provider:
        cached = (provider, serialize_provider(provider))
        _SERIALIZED[id(provider)] = cached
    return pulumi.Output.secret(cached[1])


def register(resource: pulumi.dynamic.Resource, provider: ResourceProvider, name: str, props: dict[str, Any],
             opts: pulumi.ResourceOptions | None) -> None:
    """What pulumi.dynamic.Resource.__init__ does, with the provider serialized once (`serialized_once`)."""
    props["__provider"] = serialized_once(provider)
    pulumi.CustomResource.__init__(resource, f"pulumi-python:{resource._resource_type_name}", name, props, opts)
