"""The ASGI application: routes, Databricks-shaped errors, and call counting."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.errors import ApiError
from emulator.routes import admin, control_plane, data_plane, monitoring, oidc, permissions, workspace_objects
from emulator.settings import EmulatorSettings
from emulator.state import Workspace


def create_app(settings: EmulatorSettings | None = None, data_plane_url: str | None = None) -> FastAPI:
    """`data_plane_url`: the base URL of the socket that serves route-optimized endpoints (and only them).
    Without it, one socket serves everything and route-optimized URLs point at the workspace's own host."""
    settings = settings or EmulatorSettings()
    app = FastAPI(title="Databricks serving emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.workspace = Workspace(settings, data_plane_url)
    for module in (control_plane, permissions, data_plane, oidc, workspace_objects, monitoring):
        app.include_router(module.router)
    app.include_router(data_plane.route_optimized)
    app.include_router(admin.public)
    app.include_router(admin.router)

    # Starlette types a handler as taking any Exception, not the class it is registered for.
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(CallCounter)
    if data_plane_url is not None:
        app.add_middleware(SeparateListeners, data_plane_port=urlsplit(data_plane_url).port)
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


class SeparateListeners:
    """The data-plane socket serves route-optimized invocations only, and the workspace socket never
    serves them, as a route-optimized endpoint's URL is a host of its own at Databricks."""

    def __init__(self, app: ASGIApp, data_plane_port: int | None):
        self.app = app
        self.data_plane_port = data_plane_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server") or (None, None)
            on_data_plane = server[1] == self.data_plane_port
            if on_data_plane != bool(data_plane.ROUTE_OPTIMIZED_PATH.match(scope["path"])):
                message = f"No API found for '{scope['method']} {scope['path']}'"
                response = JSONResponse({"error_code": "ENDPOINT_NOT_FOUND", "message": message}, status_code=404)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
