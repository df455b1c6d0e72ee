"""A local Databricks workspace emulator for Model Serving: a real HTTP server on loopback that speaks
the serving-endpoints, permissions and invocation APIs, for tests and benchmarks.

Start it with `python -m emulator [--port 8080] [--data-plane-port 0] [--settings file.yaml]`, or from tests with
`emulator.testing.running_emulator(**settings)` (in-process thread) or
`emulator.testing.emulator_process(**settings)` (child process). Settings: `emulator.settings`.

Databricks APIs (JSON as databricks-sdk 0.156 parses it; errors as `{"error_code", "message"}`):
    POST   /api/2.0/serving-endpoints                          create
    GET    /api/2.0/serving-endpoints                          list (endpoints the caller can view)
    GET    /api/2.0/serving-endpoints/{name}                   detail
    PUT    /api/2.0/serving-endpoints/{name}/config            update config (409 while IN_PROGRESS)
    PATCH  /api/2.0/serving-endpoints/{name}/tags              {add_tags, delete_tags} -> {tags}
    PUT    /api/2.0/serving-endpoints/{name}/ai-gateway
    PATCH  /api/2.0/serving-endpoints/{name}/notifications
    DELETE /api/2.0/serving-endpoints/{name}
    GET    /api/2.0/serving-endpoints/{name}/served-models/{served}/build-logs | /logs
    GET    /api/2.0/serving-endpoints/{name}/metrics           Prometheus text, per-minute gauges
    GET|PUT|PATCH /api/2.0/permissions/serving-endpoints/{id}  (+ /permissionLevels)
    POST   /serving-endpoints/{name}/invocations               routed by the traffic split
    POST   /serving-endpoints/{name}/served-models/{served}/invocations
    GET    /.well-known/databricks-config                      host metadata (oidc_endpoint)
    GET    /oidc/.well-known/oauth-authorization-server
    POST   /oidc/v1/token                                      client_credentials, jwt-bearer exchange
On the data-plane listener (route-optimized endpoints' endpoint_url; OAuth tokens only):
    POST   /{workspace id}/serving-endpoints/{name}/invocations

Admin API (`Authorization: Bearer <admin_token>`; see `emulator.routes.admin` and the methods of
`emulator.testing.EmulatorHandle`):
    GET    /_emulator/health                                   no token needed
    POST   /_emulator/reset
    GET    /_emulator/counters | /_emulator/faults
    DELETE /_emulator/faults[?endpoint=...]                    also releases stuck updates, ends recovery
    POST   /_emulator/faults/fail-next-deployment | burst | latency | error-rate
    POST   /_emulator/faults/stuck-update | release-update | not-ready-after-update
    DELETE /_emulator/endpoints/{name}                         delete out of band
    POST   /_emulator/models/{catalog.schema.model}/versions   register a version at run time
"""

from emulator.app import create_app
from emulator.settings import EmulatorSettings, ModelVersionSpec, PrincipalSpec, RegisteredModelSpec, load_settings

__all__ = [
    "EmulatorSettings",
    "ModelVersionSpec",
    "PrincipalSpec",
    "RegisteredModelSpec",
    "create_app",
    "load_settings",
]
