"""API errors in the shape Databricks returns and databricks-sdk parses.

The sdk (`databricks/sdk/errors/mapper.py`) maps a body `{"error_code": ..., "message": ...}` first by
`error_code` (RESOURCE_DOES_NOT_EXIST -> ResourceDoesNotExist, INVALID_PARAMETER_VALUE ->
InvalidParameterValue, RESOURCE_ALREADY_EXISTS -> ResourceAlreadyExists, ...) and otherwise by HTTP
status (401 Unauthenticated, 403 PermissionDenied, 409 ResourceConflict, 429 TooManyRequests, 500
InternalError, 503 TemporarilyUnavailable, 504 DeadlineExceeded). For 429 and 503 it reads
`Retry-After` and retries the call itself.
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


def bad_request(message: str) -> ApiError:
    """Invalid invocation input, like the model server's own 400s."""
    return ApiError(400, "BAD_REQUEST", message)


def invalid_parameter(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", message)


def permission_denied(message: str) -> ApiError:
    return ApiError(403, "PERMISSION_DENIED", message)


def does_not_exist(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def already_exists(message: str) -> ApiError:
    return ApiError(409, "RESOURCE_ALREADY_EXISTS", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "RESOURCE_CONFLICT", message)


def invalid_state(message: str) -> ApiError:
    return ApiError(400, "INVALID_STATE", message)


def injected(status: int, message: str, retry_after_seconds: int | None = None) -> ApiError:
    """An error a fault asked for; codes follow what the sdk maps for each status."""
    codes = {
        429: "REQUEST_LIMIT_EXCEEDED",
        500: "INTERNAL_ERROR",
        503: "TEMPORARILY_UNAVAILABLE",
        504: "DEADLINE_EXCEEDED",
    }
    headers = {"Retry-After": str(retry_after_seconds)} if retry_after_seconds is not None else None
    return ApiError(status, codes.get(status, "INTERNAL_ERROR"), message, headers)
