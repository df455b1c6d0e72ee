"""What the project's dynamic providers share: a workspace client that is never pickled, the phase
the program runs in, and a provider pickled once per program."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown

from components import jobs
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
    """A dynamic provider whose create and update wait on the workspace (readiness, a rollout).

    Args:
        policy: polling cadence; the default polls like databricks-sdk's waiter.

    Subclasses say which inputs they watch and keep, what `check` refuses, the job they run and how its
    result becomes outputs; the engine's calls are the same for all of them. The job starts at `check`
    during `pulumi up` and `create`/`update` join it (components.jobs).

    The provider object is pickled into the state (`__provider`): it holds nothing but its poll policy.
    The engine hands the decrypted stack config to `configure` inside the provider host; the client
    built from it lives only in that process and is never pickled, returned, logged or put in an error.
    """

    watched_inputs: ClassVar[tuple[str, ...]] = ()
    """Inputs whose change means "do it again"; deadlines and `phase` are never among them."""
    kept_inputs: ClassVar[tuple[str, ...]] = ()
    """Inputs carried into the outputs: diff and update receive the old outputs, not the old inputs."""
    id_suffix: ClassVar[str] = ""

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

    # --- what a subclass provides --------------------------------------------------------------------

    def failures(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """What `check` refuses in the inputs (values not known yet are skipped)."""
        return []

    def job(self, inputs: Mapping[str, Any]) -> tuple[str, Callable[[], Any]]:
        """The job's key (same inputs, same key) and the work, which raises when it fails."""
        raise NotImplementedError

    def outputs(self, result: Any) -> dict[str, Any]:
        """The job's result as outputs."""
        raise NotImplementedError

    # --- the engine's calls ------------------------------------------------------------------------

    def watched(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {key: inputs.get(key) for key in self.watched_inputs}

    def live_endpoint(self, props: Mapping[str, Any]) -> dict[str, Any] | None:
        """The endpoint the resource is about, or None when it no longer exists."""
        name = props.get("endpoint_name")
        return self.client.get_endpoint(name) if name else None

    def _run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        result = jobs.join(*self.job(inputs))
        kept = {key: value for key, value in inputs.items() if key in self.kept_inputs}
        return {**kept, **self.outputs(result)}

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = self.failures(news)
        watched = self.watched(news)
        changed = not olds or self.watched(olds) != watched
        if not failures and changed and news.get("phase") == APPLY and not has_unknowns(watched):
            jobs.start(*self.job(news))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self.watched(olds) != self.watched(news)
        # The endpoint itself belongs to its ModelServing: nothing here is ever replaced.
        return DiffResult(changes=changed, replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['endpoint_name']}-{self.id_suffix}", outs=self._run(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._run(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: the endpoint belongs to its ModelServing resource."""


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
