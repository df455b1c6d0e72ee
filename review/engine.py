"""Run the real Pulumi program under Pulumi's mock engine, with a stack's own config file.

No Pulumi CLI, backend, credentials or network: the SDK's `MockMonitor` stands in for the engine, and
this module records what the program declares, as the engine would receive it (type, name, parent,
dependencies, inputs with secrets still marked) and what the stack exports. The tests, the offline
review (`python -m review`) and the benchmarks all run the program through `run_program`.

The mock engine is driven through private names of the Pulumi SDK: `PRIVATE_PULUMI_API` lists each one,
what it is used for and its public alternative; tests/test_pulumi_private_api.py checks them against the
installed SDK, so an upgrade fails there first.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.config import STACK_FILE_VARIABLE, StackConfigError
from components.stack_file import StackFile, UnreadableStackFileError, read_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "[secret]"
"""What a `secure:` stack value reads as under mocks: the ciphertext cannot be decrypted without the CLI."""

# The mock engine keeps its settings in process globals: one program run at a time.
_RUN_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------------
# The private Pulumi runtime this module drives

PULUMI_VERSION = "3.272.0"
"""The SDK version every entry below was checked against (requirements.txt pins it; the canary test,
tests/test_pulumi_private_api.py, fails first, naming the entry, when an upgrade changes one)."""


@dataclass(frozen=True)
class PrivateApi:
    """One name of the Pulumi SDK's private runtime the review relies on, and the shape it relies on.

    Public names (`pulumi.runtime.Mocks`, `set_all_config`, `run_in_stack`) are left out: the SDK keeps
    those stable. These are not exported by `pulumi.runtime` (or only their public half is), so a minor
    SDK release may change them without notice.
    """

    name: str
    """`module:attribute.path`, e.g. `pulumi.runtime.settings:SETTINGS.rpc_manager`."""
    use: str
    """What the review needs it for."""
    since: str
    """The first pulumi version this project relied on it with (the project has pinned 3.272.0 since
    its first commit; older versions were never checked)."""
    public_alternative: str
    """The public API that comes closest, and why it does not do."""
    parameters: tuple[str, ...] = ()
    """A callable's parameters the review passes (by name): the canary checks the signature has them."""
    members: tuple[str, ...] = ()
    """Attributes the review reads or calls on it (class annotations count, for instance attributes)."""
    fields: tuple[str, ...] = ()
    """A protobuf message's fields the review reads."""


PRIVATE_PULUMI_API: tuple[PrivateApi, ...] = (
    PrivateApi(
        name="pulumi.runtime.mocks:MockMonitor",
        use="subclassed (RecordingMonitor) to record each registration's parent, dependencies and resource "
        "options, and the stack's outputs, as the engine would receive them",
        since="3.272.0",
        public_alternative="pulumi.runtime.Mocks: new_resource sees a resource's type, name, inputs and "
        "provider, not its parent, dependencies, options or the stack outputs",
        members=("RegisterResource", "RegisterResourceOutputs", "mocks"),
    ),
    PrivateApi(
        name="pulumi.runtime.mocks:set_mocks",
        use="installs the RecordingMonitor (the `monitor=` parameter takes a private MockMonitor)",
        since="3.272.0",
        public_alternative="set_mocks without monitor= (public) runs the SDK's own monitor, which records nothing",
        parameters=("mocks", "project", "stack", "preview", "monitor"),
    ),
    PrivateApi(
        name="pulumi.runtime.proto.resource_pb2:RegisterResourceRequest",
        use="the registration RecordingMonitor reads: what the engine would receive for each resource",
        since="3.272.0",
        public_alternative="none: the engine's gRPC protocol is versioned, its generated Python module is not public",
        fields=(
            "type",
            "name",
            "parent",
            "custom",
            "object",
            "dependencies",
            "additionalSecretOutputs",
            "ignoreChanges",
            "replaceOnChanges",
            "deleteBeforeReplace",
            "provider",
        ),
    ),
    PrivateApi(
        name="pulumi.runtime.proto.resource_pb2:RegisterResourceOutputsRequest",
        use="the stack's outputs RecordingMonitor records (`pulumi.export`)",
        since="3.272.0",
        public_alternative="none (as RegisterResourceRequest)",
        fields=("urn", "outputs"),
    ),
    PrivateApi(
        name="pulumi.runtime.rpc:deserialize_properties",
        use="a registration's protobuf inputs and outputs as Python values, secrets still wrapped, unknowns kept",
        since="3.272.0",
        public_alternative="none: Mocks.new_resource gets inputs already deserialized, without unknowns",
        parameters=("props_struct", "keep_unknowns"),
    ),
    PrivateApi(
        name="pulumi.runtime.rpc:is_rpc_secret",
        use="tells a secret in what the program registered (is_secret; the capture and the policy check)",
        since="3.272.0",
        public_alternative="pulumi.Output.is_secret works on Outputs, not on the registered wire values",
        parameters=("value",),
    ),
    PrivateApi(
        name="pulumi.runtime.rpc:unwrap_rpc_secret",
        use="a secret's plain value, for assertions and the policy check (unwrap)",
        since="3.272.0",
        public_alternative="none for wire values (pulumi.Output.unsecret works on Outputs)",
        parameters=("value",),
    ),
    PrivateApi(
        name="pulumi.runtime.rpc:wrap_rpc_secret",
        use="a masked secret in a capture (review.capture) keeps its secret marker",
        since="3.272.0",
        public_alternative="none for wire values (pulumi.Output.secret works on Outputs)",
        parameters=("value",),
    ),
    PrivateApi(
        name="pulumi.runtime.rpc:UNKNOWN",
        use="the marker of a value known only after apply, in the policy check (review.policy_check)",
        since="3.272.0",
        public_alternative="none",
    ),
    PrivateApi(
        name="pulumi.runtime.settings:SETTINGS.rpc_manager",
        use="cleared before each run: RPCs still pending from a previous run in this process would leak into it",
        since="3.272.0",
        public_alternative="none",
        members=("clear",),
    ),
    PrivateApi(
        name="pulumi.runtime.settings:SETTINGS.outputs",
        use="cleared before each run, as rpc_manager: a previous run's outputs would be awaited by this one",
        since="3.272.0",
        public_alternative="none",
        members=("clear",),
    ),
    PrivateApi(
        name="pulumi.runtime.settings:set_root_resource",
        use="set to None twice per run: before set_mocks (so it registers a fresh Stack) and after (so "
        "run_in_stack's own Stack receives the exports); the SDK types its parameter as a Resource",
        since="3.272.0",
        public_alternative="none (pulumi.runtime.get_root_resource is public, its setter is not)",
        parameters=("root",),
    ),
    PrivateApi(
        name="pulumi.runtime.sync_await:_sync_await",
        use="drives run_in_stack to the end on the event loop the SDK's settings keep, as the SDK's own mocks do",
        since="3.272.0",
        public_alternative="none: asyncio.run makes and closes an event loop of its own",
        parameters=("awaitable",),
    ),
)


@dataclass(frozen=True)
class DeclaredResource:
    """One resource the program registered, as the engine saw it."""

    urn: str
    type: str
    name: str
    parent: str
    """URN of the parent resource ('' for the stack itself)."""
    custom: bool
    """True for provider resources, False for components."""
    inputs: dict[str, Any]
    """Inputs as registered; secret values stay wrapped (see `is_secret`)."""
    dependencies: tuple[str, ...]
    """URNs this resource depends on (explicit `depends_on` and the resources its inputs came from)."""
    additional_secret_outputs: tuple[str, ...]
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    provider: str = ""
    """The explicit provider reference (`<provider urn>::<id>`), '' for the default provider."""


@dataclass
class ProgramRun:
    """Everything one run of the program declared and exported."""

    stack: str
    resources: list[DeclaredResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """Stack outputs (`pulumi.export`), secrets still wrapped."""
    config: dict[str, str] = field(default_factory=dict)
    """The stack's config as the engine handed it to the program (`ns:key` -> text), secret keys left out."""

    def of_type(self, type_: str) -> list[DeclaredResource]:
        return [resource for resource in self.resources if resource.type == type_]

    def named(self, name: str) -> DeclaredResource:
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources are named {name!r}")
        return matches[0]

    def children(self, parent: DeclaredResource) -> list[DeclaredResource]:
        return [resource for resource in self.resources if resource.parent == parent.urn]


def is_secret(value: Any) -> bool:
    from pulumi.runtime import rpc

    return rpc.is_rpc_secret(value)


def unwrap(value: Any) -> Any:
    """The value with every secret marker removed (for assertions on plain values)."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------------
# Stack files


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The stacks that have a stack file in the project."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in project_dir.glob("Pulumi.*.yaml"))


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_secure(item) for item in value)
    return False


def _mask_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {key: _mask_secure(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_secure(item) for item in value]
    return value


def engine_config(
    document: dict[str, Any] | None, project: str, stack: str = "<stack>"
) -> tuple[dict[str, str], list[str]]:
    """Turn a stack file's `config:` into what the engine hands a Python program.

    As the CLI does: keys are namespaced (a bare key belongs to the project), structured values are
    passed as JSON, scalars as text, and a key holding any `secure:` value is a secret key. A `config:`
    that is not a map is a StackConfigError, as the CLI refuses such a file.
    """
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    section = (document or {}).get("config") or {}
    if not isinstance(section, Mapping):
        kind = f"a {type(section).__name__}"
        example = f"`{project}:endpoints: ...`"
        raise StackConfigError(stack, [f"config: must be a map of keys to values ({example}), not {kind}"])
    for key, value in section.items():
        key = str(key)
        full_key = key if ":" in key else f"{project}:{key}"
        if _has_secure(value):
            secret_keys.append(full_key)
            value = _mask_secure(value)
        if isinstance(value, (dict, list)):
            config[full_key] = json.dumps(value, default=str)
        elif value is None:
            config[full_key] = ""  # the CLI reads an empty value as empty text
        elif isinstance(value, bool):
            config[full_key] = "true" if value else "false"
        else:
            config[full_key] = str(value)
    return config, secret_keys


# --------------------------------------------------------------------------------------------------
# The mock engine


def _fake_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


class WorkspaceMocks:
    """Answers the mock engine as a workspace would: ids and the outputs the program reads."""

    data_plane_domain = "serving.example.com"
    workspace_id = "1234567890123456"

    def __init__(self, host: str = "https://workspace.example.com"):
        self.host = host.rstrip("/")

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "databricks:index/modelServing:ModelServing":
            name = args.inputs.get("name", args.name)
            endpoint_id = _fake_id("endpoint", name)
            outputs["servingEndpointId"] = endpoint_id
            if args.inputs.get("routeOptimized"):
                # As Databricks does: only a route-optimized endpoint has an endpoint_url, on a data-plane host
                # of its own (`<unique id>.<shard>.serving...`) with the workspace id in the path.
                outputs["endpointUrl"] = (
                    f"https://{endpoint_id[:16]}.{self.data_plane_domain}/{self.workspace_id}"
                    f"/serving-endpoints/{name}/invocations"
                )
            else:
                outputs.pop("endpointUrl", None)
            return name, outputs
        if args.typ == "servingops:index:EndpointReadiness":
            # What a successful verification reports: the declared versions and traffic, verified.
            entities = args.inputs.get("served_entities") or []
            outputs["verified_versions"] = {entity["name"]: entity["entity_version"] for entity in entities}
            outputs["verified_traffic"] = dict(args.inputs.get("traffic") or {})
            return f"{args.inputs.get('endpoint_name')}-readiness", outputs
        if args.typ == "servingops:index:EndpointRollout":
            # What a rollout that reached its target reports.
            outputs["last_good_split"] = dict(args.inputs.get("target") or {})
            return f"{args.inputs.get('endpoint_name')}-rollout", outputs
        return _fake_id(args.typ, args.name), outputs

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "servingops:index:resolveModelVersion":
            # Offline there is no workspace to ask: an alias stays unresolved, and the review says so.
            return {"unresolved": "no credentials"}, []
        if args.token == "databricks:index/getSqlWarehouse:getSqlWarehouse":
            # A monitoring block's warehouse, by name: an id standing in for the workspace's.
            name = str(args.args.get("name"))
            return {"id": _fake_id("warehouse", name), "name": name}, []
        return {}, []


def _monitor_class() -> type:
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
        """The SDK's MockMonitor, also recording parents, dependencies and stack outputs."""

        def __init__(self, mocks: Any, run: ProgramRun):
            super().__init__(mocks)
            self.run = run
            self._lock = threading.Lock()

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # SDK leaves it untyped
            if request.type != "pulumi:pulumi:Stack":
                resource = DeclaredResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    dependencies=tuple(request.dependencies),
                    additional_secret_outputs=tuple(request.additionalSecretOutputs),
                    ignore_changes=tuple(request.ignoreChanges),
                    replace_on_changes=tuple(request.replaceOnChanges),
                    delete_before_replace=request.deleteBeforeReplace,
                    provider=request.provider,
                )
                with self._lock:
                    self.run.resources.append(resource)
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            if "::pulumi:pulumi:Stack::" in request.urn:
                self.run.outputs.update(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
            return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]  # SDK leaves it untyped

    return RecordingMonitor


@contextmanager
def _checked_stack_file(path: str) -> Iterator[None]:
    """The program checks the stack file's YAML itself, as under `pulumi up`: this file, or none ('')."""
    previous = os.environ.get(STACK_FILE_VARIABLE)
    os.environ[STACK_FILE_VARIABLE] = path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(STACK_FILE_VARIABLE, None)
        else:
            os.environ[STACK_FILE_VARIABLE] = previous


def _install_mock_engine(
    monitor: Any, config: dict[str, str], secret_keys: list[str], project: str, stack: str, preview: bool
) -> None:
    """Reset the SDK's process-wide settings and point them at `monitor` (see PRIVATE_PULUMI_API)."""
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import mocks as runtime_mocks
    from pulumi.runtime import settings as runtime_settings

    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    # The SDK types the root as a Resource, but None is what makes set_mocks register a fresh Stack.
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    runtime_mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    runtime_config.set_all_config(config, secret_keys)
    # run_in_stack makes its own Stack; drop the one set_mocks registered so exports land on ours.
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]


def _run_main(main: str) -> None:
    """Run the program file inside a Stack, to the end, as the engine's language host would."""
    import pulumi
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    def program() -> None:
        runpy.run_path(main, run_name="__main__")

    try:
        _sync_await(run_in_stack(program))
    except pulumi.RunError as error:
        # The program raises a bad stack file or alias as a RunError for the engine's sake: the review
        # wants the error itself (a StackConfigError lists its problems).
        if error.__cause__ is not None:
            raise error.__cause__ from None
        raise


def run_program(
    stack: str,
    *,
    project_dir: Path = PROJECT_DIR,
    document: dict[str, Any] | None = None,
    preview: bool = True,
    mocks: WorkspaceMocks | None = None,
    secret_values: dict[str, str] | None = None,
    program: Path | None = None,
    source: StackFile | None = None,
) -> ProgramRun:
    """Run `__main__.py` for `stack` under the mock engine and return what it declared.

    `source` is the stack file read (its document and the file the program checks, as under `pulumi up`);
    `document` a parsed stack file standing alone (no file for the program to check); by default
    `Pulumi.<stack>.yaml` is read. `secret_values`
    stands in for the CLI's decryption: the clear value of a `secure:` key (else `[secret]`). Errors the
    program raises (an invalid stack file) propagate unchanged. `program` replaces `__main__.py` (benchmarks
    run a bare program through the same engine).
    """
    checked_file = ""
    if document is None:
        try:
            source = source or read_stack_file(stack_file(stack, project_dir))
        except UnreadableStackFileError as error:
            raise StackConfigError(stack, [str(error)]) from None
        document, checked_file = source.document, str(source.path)
    project = project_name(project_dir)
    config, secret_keys = engine_config(document, project, stack)
    for key, value in (secret_values or {}).items():
        config[key] = value
        secret_keys.append(key)
    run = ProgramRun(stack=stack, config={key: value for key, value in config.items() if key not in secret_keys})

    with _RUN_LOCK:
        monitor = _monitor_class()(mocks or WorkspaceMocks(config.get("databricks:host", "")), run)
        _install_mock_engine(monitor, config, secret_keys, project, stack, preview)
        run.resources.clear()
        with _checked_stack_file(checked_file):
            _run_main(str(program or project_dir / "__main__.py"))
    return run
