"""The workspace's OAuth endpoints, as databricks-sdk discovers and calls them:

    GET  /.well-known/databricks-config                  host metadata: `oidc_endpoint` = <host>/oidc
    GET  /oidc/.well-known/oauth-authorization-server    authorization and token endpoints
    POST /oidc/v1/token                                  client_credentials or jwt-bearer (see emulator.oauth)

The token endpoint reads `application/x-www-form-urlencoded` bodies (what the sdk sends) and answers
errors the OAuth way (`{"error", "error_description"}`), not the REST API way.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator.auth import CurrentWorkspace
from emulator.oauth import EndpointGrant, OAuthError, parse_authorization_details
from emulator.settings import PrincipalSpec
from emulator.state import Workspace

router = APIRouter()

CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/.well-known/databricks-config", include_in_schema=False)
async def host_metadata(request: Request, workspace: CurrentWorkspace) -> dict[str, Any]:
    # databricks-sdk reads this when a client is built; `oidc_endpoint` is where it finds the token endpoint.
    return {"workspace_id": workspace.settings.workspace_id, "oidc_endpoint": f"{_base_url(request)}/oidc"}


@router.get("/oidc/.well-known/oauth-authorization-server", include_in_schema=False)
async def authorization_server(request: Request) -> dict[str, Any]:
    oidc = f"{_base_url(request)}/oidc"
    return {
        "issuer": oidc,
        "authorization_endpoint": f"{oidc}/v1/authorize",
        "token_endpoint": f"{oidc}/v1/token",
        "grant_types_supported": [CLIENT_CREDENTIALS, JWT_BEARER],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


@router.post("/oidc/v1/token", include_in_schema=False)
async def token(request: Request, workspace: CurrentWorkspace) -> JSONResponse:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    try:
        grant_type = form.get("grant_type")
        if grant_type == CLIENT_CREDENTIALS:
            principal = _client(request, form, workspace)
        elif grant_type == JWT_BEARER:
            principal = _assertion(form, workspace)
        else:
            raise OAuthError(400, "unsupported_grant_type", f"Grant type '{grant_type}' is not supported.")
        details = form.get("authorization_details")
        if grant_type == JWT_BEARER and not details:
            raise OAuthError(400, "invalid_request", "A jwt-bearer exchange needs authorization_details.")
        grants = parse_authorization_details(details) if details else ()
        _check_grants(workspace, principal, grants)
    except OAuthError as error:
        return JSONResponse({"error": error.error, "error_description": error.description}, status_code=error.status)
    return JSONResponse(workspace.tokens.issue(principal, grants), headers={"Cache-Control": "no-store"})


def _client(request: Request, form: dict[str, str], workspace: Workspace) -> PrincipalSpec:
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client", "Malformed client credentials.") from None
    spec = workspace.settings.oauth_clients.get(client_id)
    if spec is None or not hmac.compare_digest(secret.encode(), spec.client_secret.encode()):
        raise OAuthError(401, "invalid_client", "Client authentication failed.")
    return spec.principal(client_id)


def _assertion(form: dict[str, str], workspace: Workspace) -> PrincipalSpec:
    issued = workspace.tokens.lookup(form.get("assertion", ""))
    if issued is None or not issued.is_workspace_token:
        # A personal access token is not an OAuth token and cannot be exchanged here.
        raise OAuthError(401, "invalid_grant", "The assertion is not a valid workspace OAuth token.")
    return issued.principal


def _check_grants(workspace: Workspace, principal: PrincipalSpec, grants: tuple[EndpointGrant, ...]) -> None:
    for grant in grants:
        endpoint = next((e for e in workspace.all() if e.id == grant.endpoint_id), None)
        level = endpoint.acl.level_of(principal) if endpoint is not None else None
        if level not in ("CAN_QUERY", "CAN_MANAGE"):
            # Databricks' wording (seen when a service principal lacks CAN_QUERY on the endpoint).
            raise OAuthError(
                400, "invalid_authorization_details", "User is not authorized to the requested authorizations"
            )
