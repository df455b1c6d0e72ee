"""The stand-in's one HTTP client: databricks-sdk's `ApiClient`, made from the provider's configuration
(`databricks:host`, `databricks:token`, ...) or, where it has none, the sdk's unified authentication
(DATABRICKS_* variables), as the real provider resolves credentials; its errors as the resources' own."""

from __future__ import annotations

import threading
from typing import Any

from databricks_standin import resources
from serving.workspace import sdk_config


class ProviderClient:
    """`client(method, path, body=None, query=None)`: the JSON answer (a 404 raises NotFoundError, any other
    API error ApiError, a configuration without credentials ValueError). Made on first use after `configure`."""

    def __init__(self) -> None:
        self._config: dict[str, Any] = {}
        self._client: Any = None
        self._lock = threading.Lock()

    def configure(self, config: dict[str, Any]) -> None:
        with self._lock:
            self._config = dict(config)
            self._client = None

    def __call__(self, method: str, path: str, body: Any = None, query: Any = None) -> Any:
        from databricks.sdk import errors  # imported lazily: the sdk takes a second to import
        from databricks.sdk.errors.base import DatabricksError

        with self._lock:
            if self._client is None:
                from databricks.sdk.core import ApiClient

                config = self._config
                self._client = ApiClient(sdk_config(lambda key: config.get(key.split(":", 1)[1])))
            client = self._client
        try:
            return client.do(method, path, body=body, query=query) or {}
        except errors.NotFound as error:
            raise resources.NotFoundError(str(error)) from None
        except DatabricksError as error:
            raise resources.ApiError(str(error)) from None
