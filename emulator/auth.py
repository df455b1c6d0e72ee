"""Bearer-token authentication, as FastAPI dependencies. Tokens are compared, never logged."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from emulator.errors import unauthenticated
from emulator.settings import PrincipalSpec

# Handlers and dependencies are `async def` on purpose: FastAPI runs plain `def` ones in a thread
# pool, and the workspace state is only safe on the event loop.
from emulator.state import Workspace


async def workspace_of(request: Request) -> Workspace:
    return request.app.state.workspace


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Missing or malformed credentials: send 'Authorization: Bearer <token>'.")
    return token.strip()


async def current_principal(request: Request) -> PrincipalSpec:
    token = _bearer_token(request)
    principal = request.app.state.workspace.settings.tokens.get(token)
    if principal is None:
        raise unauthenticated("Invalid access token.")
    return principal


async def require_admin(request: Request) -> None:
    token = _bearer_token(request)
    expected = request.app.state.workspace.settings.admin_token
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise unauthenticated("Invalid admin token for the emulator's admin API.")


Caller = Annotated[PrincipalSpec, Depends(current_principal)]
CurrentWorkspace = Annotated[Workspace, Depends(workspace_of)]
