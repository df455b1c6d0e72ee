"""Bearer-token authentication, as FastAPI dependencies. Tokens are compared, never logged."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from emulator.errors import unauthenticated
from emulator.oauth import IssuedToken
from emulator.settings import PrincipalSpec

# Handlers and dependencies are `async def` on purpose: FastAPI runs plain `def` ones in a thread
# pool, and the workspace state is only safe on the event loop.
from emulator.state import Workspace


async def workspace_of(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace  # set by create_app; Starlette's state is untyped
    return workspace


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Missing or malformed credentials: send 'Authorization: Bearer <token>'.")
    return token.strip()


async def current_principal(request: Request) -> PrincipalSpec:
    """The principal of a personal access token or of a workspace OAuth token. A token scoped to an
    endpoint's data plane (authorization_details) is not valid on the workspace's APIs."""
    token = _bearer_token(request)
    workspace: Workspace = request.app.state.workspace
    principal = workspace.settings.tokens.get(token)
    if principal is not None:
        return principal
    issued = workspace.tokens.lookup(token)
    if issued is None or not issued.is_workspace_token:
        raise unauthenticated("Invalid access token.")
    return issued.principal


async def data_plane_token(request: Request) -> IssuedToken:
    """A route-optimized endpoint's URL takes OAuth tokens only (Databricks: "Querying route-optimized
    endpoints only support using OAuth tokens. Personal access tokens are not supported.")."""
    token = _bearer_token(request)
    workspace: Workspace = request.app.state.workspace
    if token in workspace.settings.tokens:
        # Choice: the status and wording of Databricks' refusal are not documented; this is 401 with the docs' rule.
        raise unauthenticated(
            "Route-optimized endpoints can only be queried with OAuth tokens; personal access tokens are not supported."
        )
    issued = workspace.tokens.lookup(token)
    if issued is None:
        raise unauthenticated("Invalid access token.")
    return issued


async def require_admin(request: Request) -> None:
    token = _bearer_token(request)
    expected = request.app.state.workspace.settings.admin_token
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise unauthenticated("Invalid admin token for the emulator's admin API.")


Caller = Annotated[PrincipalSpec, Depends(current_principal)]
CurrentWorkspace = Annotated[Workspace, Depends(workspace_of)]
DataPlaneToken = Annotated[IssuedToken, Depends(data_plane_token)]
