"""The one place that speaks HTTP to a Databricks workspace: the serving endpoints API, and the lookups and
invocations around it.

Only the `servingops` plugin (provider/) and the command-line tools use it. `ServingClient` is assembled here
from its parts by concern: serving.control_plane (the transport and the endpoints' reads and writes),
serving.lookups (read-only lookups for preflight and alias resolution), serving.data_plane (invocations);
every name callers import stays importable from here. Credentials are resolved by databricks-sdk's unified
authentication (PAT, OAuth M2M client id/secret, config profiles, Azure/GCP identities) from the plugin's
provider configuration and the standard DATABRICKS_* environment variables; this module never parses
or stores a credential itself, and never puts one into an exception, a log line or a return value.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from serving.control_plane import (  # importable from here, where callers found them
    CONNECT_TIMEOUT_SECONDS,
    CONTROL_PLANE_RETRY,
    CONTROL_PLANE_TIMEOUT_SECONDS,
    MAX_BODY_SHOWN,
    RETRY_AFTER_CAP_SECONDS,
    ControlPlane,
    ServingApiError,
)
from serving.data_plane import DataPlane, Invocation
from serving.lookups import WorkspaceLookups

if TYPE_CHECKING:
    from databricks.sdk.core import Config

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "CONTROL_PLANE_RETRY",
    "CONTROL_PLANE_TIMEOUT_SECONDS",
    "CREDENTIAL_SETTINGS",
    "HOST_SETTINGS",
    "MAX_BODY_SHOWN",
    "RETRY_AFTER_CAP_SECONDS",
    "SDK_RETRY_TIMEOUT_SECONDS",
    "ControlPlane",
    "Invocation",
    "MissingCredentialsError",
    "ServingApiError",
    "ServingClient",
    "WorkspaceConfigError",
    "WorkspaceUnreachableError",
    "get_permissions",
    "list_endpoints",
    "require_reachable",
    "sdk_config",
]

SDK_RETRY_TIMEOUT_SECONDS = 60
"""databricks-sdk's own retry budget (host metadata, OAuth discovery) unless `databricks:retryTimeoutSeconds`
says otherwise; the sdk's default, 300 s, is what made an unreachable host take five minutes to fail."""

HOST_SETTINGS = (
    "databricks:host in the stack file (Pulumi.<stack>.yaml), DATABRICKS_HOST, or the host of the "
    "~/.databrickscfg profile named by databricks:profile / DATABRICKS_CONFIG_PROFILE"
)
CREDENTIAL_SETTINGS = (
    "DATABRICKS_TOKEN (or the secret databricks:token) for a personal access token; DATABRICKS_CLIENT_ID and "
    "DATABRICKS_CLIENT_SECRET (or databricks:clientId and the secret databricks:clientSecret) for a service "
    "principal; or DATABRICKS_CONFIG_PROFILE (databricks:profile) naming a ~/.databrickscfg profile"
)
SDK_NO_CREDENTIALS = "cannot configure default credentials"
"""What databricks-sdk's unified authentication says when no method in its chain applies."""


class WorkspaceConfigError(ValueError):
    """The workspace cannot be configured, reached or authenticated to. The message says what to set and
    never holds a credential. A ValueError, as databricks-sdk's own configuration errors are."""


class WorkspaceUnreachableError(WorkspaceConfigError):
    """No TCP connection to the workspace host (refused, unknown name, no answer)."""


class MissingCredentialsError(WorkspaceConfigError):
    """Nothing says which workspace or who deploys: no host, or no credentials unified authentication finds."""


def _connect_target(host: str) -> tuple[str, int, str]:
    """Where a request to `host` opens its TCP connection: the host itself, or the proxy the environment
    names for it (HTTPS_PROXY, NO_PROXY), as requests decides; and how to name it in a message."""
    proxy = requests.utils.select_proxy(host, requests.utils.get_environ_proxies(host))
    target = urlsplit(proxy if proxy else host)
    port = target.port or (443 if target.scheme == "https" else 80)
    label = f"the proxy {target.hostname}:{port} for {host}" if proxy else f"the workspace {host}"
    return target.hostname or "", port, label


def require_reachable(host: str) -> None:
    """Raise `WorkspaceUnreachableError` unless a TCP connection to `host` (or its proxy) opens: one attempt of at
    most CONNECT_TIMEOUT_SECONDS. A refused connection and an unknown name fail at once."""
    name, port, label = _connect_target(host)
    try:
        socket.create_connection((name, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except socket.gaierror:
        reason = f"no such host name {name!r}"
    except ConnectionRefusedError:
        reason = f"connection refused on port {port}"
    except TimeoutError:
        reason = f"no answer within {CONNECT_TIMEOUT_SECONDS:g} s"
    except OSError as error:
        reason = error.strerror or type(error).__name__
    else:
        return
    raise WorkspaceUnreachableError(f"cannot reach {label}: {reason}; check {HOST_SETTINGS}")


@cache
def _fail_fast_config() -> type[Config]:
    """databricks-sdk's `Config`, checking the host before its first request to it.

    Config() asks the host for its metadata (`/.well-known/databricks-config`) and, without credentials, for
    its Azure tenant (`/aad/auth`, no timeout) before any API call; the first retries a refused connection for
    its whole retry budget. The check runs where that first request would, after the host is resolved from
    the stack's keys, DATABRICKS_* variables or a profile.
    """
    from databricks.sdk.core import Config  # imported here: the sdk takes seconds to import

    class FailFastConfig(Config):
        @classmethod
        def attributes(cls) -> Any:
            return Config.attributes()  # the sdk collects them from the class' own __dict__

        def _resolve_host_metadata(self) -> None:
            if not self.host:
                raise MissingCredentialsError(f"no Databricks workspace host: set {HOST_SETTINGS}")
            require_reachable(self.host)
            super()._resolve_host_metadata()

    return FailFastConfig


def _redacted(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def sdk_config(lookup: Callable[[str], Any]) -> Config:
    """databricks-sdk's `Config` from the stack's `databricks:*` keys, env vars and profiles filling the rest.

    `lookup(key)` reads the stack config the engine hands the provider, decrypted: each sdk attribute
    (`client_secret`) is looked up under the databricks provider's own key (`databricks:clientSecret`),
    so the stack file configures this provider and pulumi-databricks alike. Whatever is missing is
    resolved by the sdk from DATABRICKS_* variables and ~/.databrickscfg profiles.

    Fails in seconds, before any request with a credential, with `WorkspaceUnreachableError` (the host refuses,
    does not resolve or does not answer a connection), `MissingCredentialsError` or `WorkspaceConfigError` (no
    host, a bad profile, conflicting methods): each names the settings to fix and never a credential.
    """
    from databricks.sdk.core import Config

    values: dict[str, Any] = {}
    secrets: list[str] = []
    for attribute in Config.attributes():
        head, *rest = attribute.name.split("_")
        value = lookup("databricks:" + head + "".join(part.title() for part in rest))
        if value not in (None, ""):
            values[attribute.name] = value
        if attribute.sensitive:
            secrets += [str(found) for found in (value, attribute.env and os.environ.get(attribute.env)) if found]
    values.setdefault("retry_timeout_seconds", SDK_RETRY_TIMEOUT_SECONDS)
    values.setdefault("http_timeout_seconds", CONTROL_PLANE_TIMEOUT_SECONDS)
    try:
        return _fail_fast_config()(**values)
    except WorkspaceConfigError:
        raise
    except ValueError as error:
        if isinstance(error.__cause__, WorkspaceConfigError):
            raise error.__cause__ from None  # the sdk wraps every ValueError of its own init: ours says enough
        cause = _redacted(str(error), secrets)
        host = values.get("host") or os.environ.get("DATABRICKS_HOST") or "the workspace"
        if SDK_NO_CREDENTIALS in cause:
            raise MissingCredentialsError(f"no Databricks credentials for {host}: set {CREDENTIAL_SETTINGS}") from None
        raise WorkspaceConfigError(
            f"cannot configure authentication for {host}: {cause} (credentials come from {CREDENTIAL_SETTINGS})"
        ) from None


class ServingClient(WorkspaceLookups, DataPlane):
    """Everything servingops asks of one workspace: the serving endpoints API (control and data plane) and the
    read-only lookups of what a deployment depends on.

    Args:
        config: databricks-sdk config that resolves the host and authenticates each request.
    """

    @classmethod
    def from_stack_config(cls, lookup: Callable[[str], Any]) -> ServingClient:
        return cls(sdk_config(lookup))

    def __repr__(self) -> str:
        return f"ServingClient(host={self._host!r})"


# --- read-only calls of the review's live report and of adoption (GET only) ---------------------------------


def list_endpoints(client: ServingClient) -> list[dict[str, Any]]:
    """Every serving endpoint the caller may see (`GET /api/2.0/serving-endpoints`), as listed (no config detail)."""
    return list(client._json("GET", "/api/2.0/serving-endpoints", "list endpoints").get("endpoints") or [])


def get_permissions(client: ServingClient, endpoint_id: str) -> dict[str, Any]:
    """The endpoint's access control list (`GET /api/2.0/permissions/serving-endpoints/{id}`), by id, not name."""
    return client._json(
        "GET", f"/api/2.0/permissions/serving-endpoints/{endpoint_id}", f"get permissions of endpoint id {endpoint_id}"
    )
