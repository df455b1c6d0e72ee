"""The workspace's REST API as `ServingClient` speaks it: the transport (sessions, retries, timeouts, headers,
errors) and the serving endpoints' own control-plane calls.

One part of the one client: serving.workspace.ServingClient assembles it with serving.lookups and
serving.data_plane, and nothing else in the project speaks HTTP to Databricks. Headers are asked per
request and never kept; no credential goes into an exception, a log line or a return value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

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
RETRY_AFTER_CAP_SECONDS = 30.0
"""The longest Retry-After a control-plane read waits for; a longer one is cut short, the read retried."""
MAX_BODY_SHOWN = 2000


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


class ServingApiError(Exception):
    """A serving API call failed. Carries the status and Databricks' error code, never a credential."""

    def __init__(self, operation: str, status: int, error_code: str, message: str):
        self.operation = operation
        self.status = status
        self.error_code = error_code
        self.message = message
        super().__init__(f"{operation}: HTTP {status} {error_code}: {message}")


def error_of(operation: str, response: requests.Response) -> ServingApiError:
    """A failed call as `ServingApiError`: its status and Databricks' error code and message (never a header)."""
    try:
        payload = response.json()
        code = payload.get("error_code") or "ERROR"
        message = payload.get("message") or response.text
    except ValueError:
        code, message = "ERROR", response.text
    return ServingApiError(operation, response.status_code, code, str(message)[:MAX_BODY_SHOWN])


class ControlPlane:
    """The serving endpoints API of one workspace: the transport, and the reads and writes of endpoints.

    Args:
        config: databricks-sdk config that resolves the host and authenticates each request.
    """

    def __init__(self, config: Config):
        self._config = config
        self._host = config.host.rstrip("/")
        self._control = requests.Session()
        self._control.mount("http://", HTTPAdapter(max_retries=CONTROL_PLANE_RETRY))
        self._control.mount("https://", HTTPAdapter(max_retries=CONTROL_PLANE_RETRY))
        self.get_calls = 0
        """GET calls made so far (the readiness benchmark compares polling cost with the sdk waiter's)."""

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
            raise error_of(operation, response)
        return response.json() if response.content else {}

    def get_endpoint(self, name: str) -> dict[str, Any] | None:
        """The endpoint's detail (`state`, `config`, `pending_config`, ...), or None if it does not exist."""
        response = self._request("GET", f"/api/2.0/serving-endpoints/{name}", f"get endpoint {name}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise error_of(f"get endpoint {name}", response)
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
            raise error_of(f"metrics of {name}", response)
        return response.text

    def _lookup(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """GET a workspace object: its body, or None when the workspace answers 404 (it does not exist)."""
        if params:
            path = f"{path}?{urlencode(params)}"
        response = self._request("GET", path, operation)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise error_of(operation, response)
        return response.json() if response.content else {}
