"""OAuth tokens the workspace issues at `/oidc/v1/token`, and the authorization details that scope them.

Two grants, as databricks-sdk uses them:
- `client_credentials` (OAuth M2M, `WorkspaceClient(client_id=..., client_secret=...)`): a service
  principal's id and secret, sent as HTTP Basic (or form fields), give a workspace token (scope
  `all-apis`); with an `authorization_details` form field the token is instead scoped to what it names.
- `urn:ietf:params:oauth:grant-type:jwt-bearer` (the sdk's `DataPlaneTokenSource`, used by
  `serving_endpoints_data_plane.query`): a workspace OAuth token as `assertion` plus the endpoint's
  `data_plane_info.query_info.authorization_details` give a token for that endpoint's data plane.

An authorization detail for a route-optimized endpoint reads
`{"type": "workspace_permission", "object_type": "serving-endpoints",
"object_path": "/serving-endpoints/<endpoint id>", "actions": ["query_inference_endpoint"]}`
(the shape Databricks documents for querying route-optimized endpoints). Minting one needs CAN_QUERY on
the endpoint, or Databricks answers `invalid_authorization_details: User is not authorized to the
requested authorizations`.

Tokens are random opaque strings (Databricks issues JWTs; nothing here reads their claims), kept in
memory with their principal, scope and expiry. They survive `/_emulator/reset` on purpose: an sdk client
caches its token, and a reset forgets workspace state, not the identity provider's.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from emulator.settings import PrincipalSpec

WORKSPACE_SCOPE = "all-apis"
QUERY_ACTION = "query_inference_endpoint"


class OAuthError(Exception):
    """An OAuth error answer (RFC 6749 section 5.2): `{"error", "error_description"}`, which the sdk's
    `retrieve_token` turns into `ValueError("<error>: <description>")`."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True)
class EndpointGrant:
    """One authorization detail: query the endpoint with this id."""

    endpoint_id: str


@dataclass(frozen=True)
class IssuedToken:
    principal: PrincipalSpec
    grants: tuple[EndpointGrant, ...]  # empty: a workspace token (all-apis)
    expires_at: float  # time.monotonic()

    @property
    def is_workspace_token(self) -> bool:
        return not self.grants

    def allows_query(self, endpoint_id: str) -> bool:
        return EndpointGrant(endpoint_id) in self.grants


def authorization_details_for(endpoint_id: str) -> str:
    """The `authorization_details` a client requests to query one route-optimized endpoint (a JSON string,
    as `DataPlaneInfo.authorization_details` carries it)."""
    return json.dumps(
        [
            {
                "type": "workspace_permission",
                "object_type": "serving-endpoints",
                "object_path": f"/serving-endpoints/{endpoint_id}",
                "actions": [QUERY_ACTION],
            }
        ],
        separators=(",", ":"),
    )


def parse_authorization_details(raw: str) -> tuple[EndpointGrant, ...]:
    try:
        details = json.loads(raw)
    except json.JSONDecodeError:
        raise OAuthError(400, "invalid_request", "authorization_details must be a JSON array.") from None
    if not isinstance(details, list) or not details:
        raise OAuthError(400, "invalid_request", "authorization_details must be a non-empty JSON array.")
    grants = []
    for detail in details:
        path = detail.get("object_path", "") if isinstance(detail, dict) else ""
        if (
            not isinstance(detail, dict)
            or detail.get("type") != "workspace_permission"
            or detail.get("object_type") != "serving-endpoints"
            or not path.startswith("/serving-endpoints/")
            or detail.get("actions") != [QUERY_ACTION]
        ):
            raise OAuthError(
                400,
                "invalid_authorization_details",
                "Each authorization detail must be a workspace_permission on serving-endpoints "
                f"'/serving-endpoints/<endpoint id>' with actions ['{QUERY_ACTION}'].",
            )
        grants.append(EndpointGrant(path.removeprefix("/serving-endpoints/")))
    return tuple(grants)


class TokenIssuer:
    def __init__(self, lifetime_seconds: float):
        self.lifetime_seconds = lifetime_seconds
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, principal: PrincipalSpec, grants: tuple[EndpointGrant, ...] = ()) -> dict[str, Any]:
        """A token response body (RFC 6749 section 5.1)."""
        self._forget_expired()
        token = "emu-oauth-" + secrets.token_urlsafe(24)
        self._tokens[token] = IssuedToken(principal, grants, time.monotonic() + self.lifetime_seconds)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime_seconds)}
        if not grants:
            body["scope"] = WORKSPACE_SCOPE
        return body

    def lookup(self, token: str) -> IssuedToken | None:
        issued = self._tokens.get(token)
        if issued is None or time.monotonic() >= issued.expires_at:
            return None
        return issued

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, issued in self._tokens.items() if now >= issued.expires_at]:
            del self._tokens[token]
