"""The ASGI application: routes, Databricks-shaped errors, and call counting."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.errors import ApiError
from emulator.routes import admin, control_plane, data_plane, permissions
from emulator.settings import EmulatorSettings
from emulator.state import Workspace


def create_app(settings: EmulatorSettings | None = None) -> FastAPI:
    settings = settings or EmulatorSettings()
    app = FastAPI(title="Databricks serving emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.workspace = Workspace(settings)
    for module in (control_plane, permissions, data_plane):
        app.include_router(module.router)
    app.include_router(admin.public)
    app.include_router(admin.router)

    @app.get("/.well-known/databricks-config", include_in_schema=False)
    async def host_metadata() -> dict:
        # databricks-sdk asks for this when a client is built; answering avoids a warning per client.
        return {"workspace_id": settings.workspace_id, "oidc_endpoint": ""}

    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CallCounter)
    return app


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {item.get('msg')}")
    return JSONResponse({"error_code": "INVALID_PARAMETER_VALUE", "message": "; ".join(problems)}, status_code=400)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    # Databricks answers unknown paths with "No API found for ..." (ENDPOINT_NOT_FOUND).
    if error.status_code == 404:
        message = f"No API found for '{request.method} {request.url.path}'"
        body = {"error_code": "ENDPOINT_NOT_FOUND", "message": message}
    elif error.status_code == 405:
        body = {"error_code": "BAD_REQUEST", "message": f"Method {request.method} is not allowed on {request.url.path}"}
    else:
        body = {"error_code": "BAD_REQUEST", "message": str(error.detail)}
    return JSONResponse(body, status_code=error.status_code)


class CallCounter:
    """Counts every API call by method and route template (e.g. `GET /api/2.0/serving-endpoints/{name}`),
    after routing has resolved the template. Pure ASGI, so it sees the scope the router filled in."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] != "http":
            return
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template is None or template.startswith("/_emulator"):
            return
        workspace: Workspace = scope["app"].state.workspace
        workspace.counters.api_calls[f"{scope['method']} {template}"] += 1
