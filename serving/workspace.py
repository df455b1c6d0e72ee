"""The one place that speaks HTTP to a Databricks workspace: the serving endpoints API.

Only the `servingops` plugin (provider/) and the command-line tools use it. Credentials are resolved by
databricks-sdk's unified authentication (PAT, OAuth M2M client id/secret, config profiles, Azure/GCP
identities) from the plugin's provider configuration and the standard DATABRICKS_* environment variables;
this module never parses
or stores a credential itself, and never puts one into an exception, a log line or a return value.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from databricks.sdk.core import Config

    from serving.model import ServingEndpoint

CONNECT_TIMEOUT_SECONDS = 10.0
"""How long a TCP connection to the workspace may take to open: the reachability check and every request."""
CONTROL_PLANE_TIMEOUT_SECONDS = 30.0
"""How long a control-plane request may wait for the workspace's answer once connected."""
SDK_RETRY_TIMEOUT_SECONDS = 60
"""databricks-sdk's own retry budget (host metadata, OAuth discovery) unless `databricks:retryTimeoutSeconds`
says otherwise; the sdk's default, 300 s, is what made an unreachable host take five minutes to fail."""
RETRY_AFTER_CAP_SECONDS = 30.0
"""The longest Retry-After a control-plane read waits for; a longer one is cut short, the read retried."""
MAX_BODY_SHOWN = 2000

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


class _BoundedRetry(Retry):
    """urllib3's retry, with the workspace's Retry-After honoured up to a cap (a throttled read still ends)."""

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, RETRY_AFTER_CAP_SECONDS)


# Control-plane reads are retried by urllib3 on throttling and transient server errors (a slow workspace),
# honouring Retry-After; a refused connection only twice (a dead host fails in seconds, a blip recovers).
# Writes and invocations are not retried (their callers decide what a retry means).
CONTROL_PLANE_RETRY = _BoundedRetry(
    total=5,
    connect=2,
    read=3,
    backoff_factor=0.5,
    backoff_max=20,
    backoff_jitter=0.5,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"GET"}),
    respect_retry_after_header=True,
    raise_on_status=False,
)


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


class ServingApiError(Exception):
    """A serving API call failed. Carries the status and Databricks' error code, never a credential."""

    def __init__(self, operation: str, status: int, error_code: str, message: str):
        self.operation = operation
        self.status = status
        self.error_code = error_code
        self.message = message
        super().__init__(f"{operation}: HTTP {status} {error_code}: {message}")


@dataclass(frozen=True)
class Invocation:
    """One request to a serving endpoint's data plane and what came back."""

    status: int
    """HTTP status, or 0 when no answer arrived (connection refused, reset, timed out)."""
    seconds: float
    body: str
    served_model: str | None
    """The `served-model-name` header: which served entity answered."""
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def json(self) -> Any:
        return json.loads(self.body)


def _error_of(operation: str, response: requests.Response) -> ServingApiError:
    try:
        payload = response.json()
        code = payload.get("error_code") or "ERROR"
        message = payload.get("message") or response.text
    except ValueError:
        code, message = "ERROR", response.text
    return ServingApiError(operation, response.status_code, code, str(message)[:MAX_BODY_SHOWN])


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare for Databricks; the caller's own backoff applies


class ServingClient:
    """The serving endpoints API of one workspace.

    Args:
        config: databricks-sdk config that resolves the host and authenticates each request.
    """

    def __init__(self, config: Config):
        self._config = config
        self._host = config.host.rstrip("/")
        self._control = requests.Session()
        self._control.mount("http://", HTTPAdapter(max_retries=CONTROL_PLANE_RETRY))
        self._control.mount("https://", HTTPAdapter(max_retries=CONTROL_PLANE_RETRY))
        # Invocations are retried by their caller, which counts attempts and honours its own deadline.
        self._data = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)
        self._data.mount("http://", adapter)
        self._data.mount("https://", adapter)
        self.get_calls = 0
        """GET calls made so far (the readiness benchmark compares polling cost with the sdk waiter's)."""
        self._data_plane_tokens: Any = None
        self._query_info: dict[str, tuple[str, str]] = {}

    @classmethod
    def from_stack_config(cls, lookup: Callable[[str], Any]) -> ServingClient:
        return cls(sdk_config(lookup))

    def __repr__(self) -> str:
        return f"ServingClient(host={self._host!r})"

    @property
    def host(self) -> str:
        return self._host

    def _headers(self) -> dict[str, str]:
        # Asked per request: the sdk refreshes OAuth tokens before they expire.
        return {**self._config.authenticate(), "Content-Type": "application/json"}

    def _request(self, method: str, path: str, operation: str, body: Any = None) -> requests.Response:
        if method == "GET":
            self.get_calls += 1
        return self._control.request(
            method,
            f"{self._host}{path}",
            headers=self._headers(),
            data=json.dumps(body) if body is not None else None,
            timeout=(CONNECT_TIMEOUT_SECONDS, CONTROL_PLANE_TIMEOUT_SECONDS),
        )

    def _json(self, method: str, path: str, operation: str, body: Any = None) -> dict[str, Any]:
        response = self._request(method, path, operation, body)
        if response.status_code >= 400:
            raise _error_of(operation, response)
        return response.json() if response.content else {}

    # --- control plane ---------------------------------------------------------------------------

    def get_endpoint(self, name: str) -> dict[str, Any] | None:
        """The endpoint's detail (`state`, `config`, `pending_config`, ...), or None if it does not exist."""
        response = self._request("GET", f"/api/2.0/serving-endpoints/{name}", f"get endpoint {name}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise _error_of(f"get endpoint {name}", response)
        body: dict[str, Any] = response.json()
        return body

    def get_serving_endpoint(self, name: str) -> ServingEndpoint | None:
        """The endpoint, typed (`serving.model.ServingEndpoint`), or None if it does not exist. What every
        reader in serving/ uses; `get_endpoint` keeps the raw body for callers that still want it."""
        from serving.model import ServingEndpoint  # imported here: serving.model is free of HTTP, this module is not

        body = self.get_endpoint(name)
        return None if body is None else ServingEndpoint.from_dict(body)

    def build_logs(self, name: str, served_entity: str) -> str:
        """The build logs of one served entity ('' when the workspace has none)."""
        path = f"/api/2.0/serving-endpoints/{name}/served-models/{served_entity}/build-logs"
        try:
            return self._json("GET", path, f"build logs of {name}/{served_entity}").get("logs") or ""
        except ServingApiError:
            return ""

    def update_config(self, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the endpoint's served entities and traffic (PUT .../config)."""
        return self._json("PUT", f"/api/2.0/serving-endpoints/{name}/config", f"update config of {name}", config)

    def update_notifications(self, name: str, email_notifications: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the endpoint's e-mail notifications (PATCH .../notifications); `{}` clears them."""
        body = {"email_notifications": dict(email_notifications)}
        return self._json(
            "PATCH", f"/api/2.0/serving-endpoints/{name}/notifications", f"update notifications of {name}", body
        )

    def metrics(self, name: str) -> str:
        """The endpoint's metrics export (Prometheus text)."""
        response = self._request("GET", f"/api/2.0/serving-endpoints/{name}/metrics", f"metrics of {name}")
        if response.status_code >= 400:
            raise _error_of(f"metrics of {name}", response)
        return response.text

    # --- read-only lookups (preflight and alias resolution) ----------------------------------------

    def _lookup(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """GET a workspace object: its body, or None when the workspace answers 404 (it does not exist)."""
        if params:
            path = f"{path}?{urlencode(params)}"
        response = self._request("GET", path, operation)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise _error_of(operation, response)
        return response.json() if response.content else {}

    def uc_model_version(self, full_name: str, version: str) -> dict[str, Any] | None:
        """A Unity Catalog model version (`ModelVersionInfo`: `status`, ...), or None if it does not exist."""
        return self._lookup(
            f"/api/2.1/unity-catalog/models/{quote(full_name)}/versions/{quote(version)}",
            f"get model version {full_name} {version}",
        )

    def uc_model_alias(self, full_name: str, alias: str) -> dict[str, Any] | None:
        """The Unity Catalog model version an alias points at, or None if there is no such alias (or model)."""
        return self._lookup(
            f"/api/2.1/unity-catalog/models/{quote(full_name)}/aliases/{quote(alias)}",
            f"get alias {alias} of {full_name}",
        )

    def registry_model_version(self, name: str, version: str) -> dict[str, Any] | None:
        """A workspace Model Registry version (`ModelVersion`: `status`, `current_stage`), or None."""
        body = self._lookup(
            "/api/2.0/mlflow/model-versions/get",
            f"get model version {name} {version}",
            {"name": name, "version": version},
        )
        return None if body is None else body.get("model_version") or {}

    def registry_latest_versions(self, name: str, stages: list[str]) -> list[dict[str, Any]] | None:
        """The latest workspace Model Registry version in each of `stages`; None if the model does not exist.

        A POST that only reads (the registry's API has no GET for it).
        """
        operation = f"get latest versions of {name}"
        response = self._request(
            "POST", "/api/2.0/mlflow/registered-models/get-latest-versions", operation, {"name": name, "stages": stages}
        )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise _error_of(operation, response)
        return list((response.json() if response.content else {}).get("model_versions") or [])

    def service_principal(self, application_id: str) -> dict[str, Any] | None:
        """The workspace's service principal with this application id, or None."""
        body = (
            self._lookup(
                "/api/2.0/preview/scim/v2/ServicePrincipals",
                f"find service principal {application_id}",
                {"filter": f'applicationId eq "{application_id}"'},
            )
            or {}
        )
        found = body.get("Resources") or []
        return found[0] if found else None

    def group(self, display_name: str) -> dict[str, Any] | None:
        """The workspace group with this name, or None."""
        body = (
            self._lookup(
                "/api/2.0/preview/scim/v2/Groups",
                f"find group {display_name}",
                {"filter": f'displayName eq "{display_name}"'},
            )
            or {}
        )
        found = body.get("Resources") or []
        return found[0] if found else None

    def user(self, user_name: str) -> dict[str, Any] | None:
        """The workspace user with this user name (an e-mail address), or None."""
        body = (
            self._lookup(
                "/api/2.0/preview/scim/v2/Users", f"find user {user_name}", {"filter": f'userName eq "{user_name}"'}
            )
            or {}
        )
        found = body.get("Resources") or []
        return found[0] if found else None

    def current_principal(self) -> str | None:
        """Who this client deploys as: a user's name or a service principal's application id."""
        body = self._lookup("/api/2.0/preview/scim/v2/Me", "who am I") or {}
        return body.get("userName")

    def secret_scopes(self) -> list[str]:
        """The names of the workspace's secret scopes."""
        body = self._lookup("/api/2.0/secrets/scopes/list", "list secret scopes") or {}
        return [str(scope.get("name")) for scope in body.get("scopes") or []]

    def secret_keys(self, scope: str) -> list[str] | None:
        """The key names in a secret scope (never values: this API has none), or None if there is no scope."""
        body = self._lookup("/api/2.0/secrets/list", f"list secrets of {scope}", {"scope": scope})
        return None if body is None else [str(secret.get("key")) for secret in body.get("secrets") or []]

    def uc_schema(self, full_name: str) -> dict[str, Any] | None:
        """A Unity Catalog schema (`catalog.schema`), or None if it (or its catalog) does not exist."""
        return self._lookup(f"/api/2.1/unity-catalog/schemas/{quote(full_name)}", f"get schema {full_name}")

    def uc_catalog(self, name: str) -> dict[str, Any] | None:
        """A Unity Catalog catalog, or None."""
        return self._lookup(f"/api/2.1/unity-catalog/catalogs/{quote(name)}", f"get catalog {name}")

    def model_privileges(self, full_name: str, principal: str) -> set[str] | None:
        """The privileges `principal` holds on a Unity Catalog model, inherited ones included; None when the
        workspace does not tell (no such model, or the caller may not read its grants)."""
        # Registered models are FUNCTION securables in Unity Catalog's grants APIs.
        path = f"/api/2.1/unity-catalog/effective-permissions/function/{quote(full_name)}"
        try:
            body = self._lookup(path, f"effective permissions on {full_name}", {"principal": principal})
        except ServingApiError as error:
            if error.status in (400, 403):
                return None
            raise
        if body is None:
            return None
        return {
            privilege.get("privilege")
            for assignment in body.get("privilege_assignments") or []
            if assignment.get("principal") == principal
            for privilege in assignment.get("privileges") or []
        }

    # --- data plane ------------------------------------------------------------------------------

    def _route_optimized_target(self, name: str) -> tuple[str, dict[str, str]]:
        """A route-optimized endpoint's own URL and the headers with an OAuth token for it.

        Databricks answers route-optimized endpoints only at their `endpoint_url`, and only with an OAuth
        token scoped to the endpoint: databricks-sdk's data-plane token source exchanges the workspace's
        OAuth token for one (as `serving_endpoints_data_plane.query` does), refreshing it before it expires.
        """
        if name not in self._query_info:
            endpoint = self.get_serving_endpoint(name)
            info = endpoint.query_info if endpoint else None
            if info is None:
                raise ServingApiError(
                    f"query {name}",
                    400,
                    "NOT_ROUTE_OPTIMIZED",
                    f"endpoint {name} has no route-optimized URL (data_plane_info.query_info)",
                )
            self._query_info[name] = (info.endpoint_url, info.authorization_details)
        url, details = self._query_info[name]
        if self._data_plane_tokens is None:
            from databricks.sdk.data_plane import DataPlaneTokenSource

            self._data_plane_tokens = DataPlaneTokenSource(self._config.host, self._config.oauth_token)
        try:
            token = self._data_plane_tokens.token(url, details)
        except Exception as error:  # noqa: BLE001 - the sdk raises several kinds; the message says what to do
            raise ServingApiError(
                f"query {name}",
                401,
                "OAUTH_REQUIRED",
                f"endpoint {name} is route-optimized and answers only OAuth tokens; authenticate the deployment as "
                f"a service principal (clientId/clientSecret), not with a personal access token "
                f"({type(error).__name__})",
            ) from None
        return url, {
            "Authorization": f"{token.token_type or 'Bearer'} {token.access_token}",
            "Content-Type": "application/json",
        }

    def invoke(
        self,
        name: str,
        body: Mapping[str, Any],
        *,
        served_entity: str | None = None,
        timeout: float = 130.0,
        route_optimized: bool = False,
    ) -> Invocation:
        """POST a request to the endpoint (through its traffic split) or to one served entity directly.

        A route-optimized endpoint is called at its own URL with an OAuth token, through its traffic split
        only (Databricks has no per-entity URL there). Never raises for an HTTP or connection failure: the
        caller decides what each outcome means; a missing OAuth identity raises `ServingApiError`.
        """
        started = time.monotonic()
        if route_optimized:
            if served_entity is not None:
                raise ValueError("a route-optimized endpoint is called through its traffic split only")
            url, headers = self._route_optimized_target(name)
        else:
            path = f"/serving-endpoints/{name}/invocations"
            if served_entity is not None:
                path = f"/serving-endpoints/{name}/served-models/{served_entity}/invocations"
            url, headers = f"{self._host}{path}", self._headers()
        try:
            response = self._data.post(url, headers=headers, data=json.dumps(body), timeout=timeout)
        except requests.RequestException as error:
            # The exception text names the URL and the failure, not headers: still, keep only its type.
            return Invocation(0, time.monotonic() - started, type(error).__name__, None, None)
        return Invocation(
            status=response.status_code,
            seconds=time.monotonic() - started,
            body=response.text[:MAX_BODY_SHOWN] if response.status_code != 200 else response.text,
            served_model=response.headers.get("served-model-name"),
            retry_after=_retry_after(response),
        )


# --- read-only calls of the review's live report and of adoption (GET only) ---------------------------------


def list_endpoints(client: ServingClient) -> list[dict[str, Any]]:
    """Every serving endpoint the caller may see (`GET /api/2.0/serving-endpoints`), as listed (no config detail)."""
    return list(client._json("GET", "/api/2.0/serving-endpoints", "list endpoints").get("endpoints") or [])


def get_permissions(client: ServingClient, endpoint_id: str) -> dict[str, Any]:
    """The endpoint's access control list (`GET /api/2.0/permissions/serving-endpoints/{id}`), by id, not name."""
    return client._json(
        "GET", f"/api/2.0/permissions/serving-endpoints/{endpoint_id}", f"get permissions of endpoint id {endpoint_id}"
    )
