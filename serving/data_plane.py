"""Calling a serving endpoint's data plane: a request through its traffic split or to one served entity.

Part of the one client (serving.workspace.ServingClient). Invocations are not retried here: their callers
(warmup, the rollout's probes) count attempts and keep their own deadline. A route-optimized endpoint is
called at its own URL with an OAuth token databricks-sdk's data-plane token source issues for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from serving.control_plane import MAX_BODY_SHOWN, ControlPlane, ServingApiError

if TYPE_CHECKING:
    from databricks.sdk.core import Config


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


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare for Databricks; the caller's own backoff applies


class DataPlane(ControlPlane):
    """Requests to one workspace's serving endpoints, as their callers send them."""

    def __init__(self, config: Config):
        super().__init__(config)
        # Invocations are retried by their caller, which counts attempts and honours its own deadline.
        self._data = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)
        self._data.mount("http://", adapter)
        self._data.mount("https://", adapter)
        self._data_plane_tokens: Any = None
        self._query_info: dict[str, tuple[str, str]] = {}

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
