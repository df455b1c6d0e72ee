"""What deletes the resources of the old dynamic providers, once, on the first `pulumi up` after the move
to the `servingops` plugin.

Stacks deployed before the move hold `pulumi-python:dynamic/serving:EndpointReadiness` and
`...:EndpointRollout` resources whose pickled provider (`__provider`) names the classes below by their
old module paths. The program no longer declares them, so the engine deletes them through Pulumi's
dynamic provider host, which must unpickle that provider first: these stand-ins let it, and their delete
does nothing (the endpoint always belonged to its ModelServing). `components/__init__.py` puts them at
the old paths. Remove this module once every stack has run one `pulumi up` with the plugin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi.dynamic import ReadResult, ResourceProvider


@dataclass(frozen=True)
class PollPolicy:
    """The old poll policy, pickled inside the old providers (its values no longer matter)."""

    first_delay: float = 1.0
    max_delay: float = 10.0
    jitter: float = 0.1
    stale_config_grace: float = 60.0
    progress_every: float = 15.0


class _RetiredProvider(ResourceProvider):
    def __setstate__(self, state: dict[str, Any]) -> None:
        """The pickled poll policy is ignored."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # A refresh before the first `up` with the plugin: keep the resource as it is until it is deleted.
        return ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete in the workspace."""


class EndpointReadinessProvider(_RetiredProvider):
    """Stand-in for the old `components.readiness.EndpointReadinessProvider`."""


class EndpointRolloutProvider(_RetiredProvider):
    """Stand-in for the old `components.rollout.EndpointRolloutProvider`."""
