"""The provider's configuration: how the plugin reaches the workspace, and how often it polls.

Credentials come from the provider's configuration (an explicit provider resource with secret inputs) or,
where it has none, from databricks-sdk's unified authentication (DATABRICKS_* variables, profiles). They
live only in this process: never returned, logged or put in an error.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from provider import wire
from provider.engine_log import EngineLog
from provider.requests import Failure, PropertyMap
from serving.verification import PollPolicy
from serving.workspace import CREDENTIAL_SETTINGS, MissingCredentialsError, ServingClient, sdk_config

SETTINGS = ("host", "token", "clientId", "clientSecret", "pollSeconds")
"""The provider's inputs (provider.schema.PROVIDER_INPUTS)."""


def policy_of(poll_seconds: float | None) -> PollPolicy:
    """The poll cadence: with the default 10 s exactly databricks-sdk's waiter (1 s, 2 s, ... 10 s)."""
    longest = float(poll_seconds or 10.0)
    return PollPolicy(
        first_delay=longest / 10,
        max_delay=longest,
        jitter=0.1,
        stale_config_grace=6 * longest,
        progress_every=1.5 * longest,
    )


def config_failures(news: PropertyMap) -> list[Failure]:
    """What CheckConfig refuses in the provider's inputs (unknowns pass: checked once known)."""
    failures = []
    host = news.get("host")
    if host not in (None, "", wire.UNKNOWN) and not str(host).startswith(("https://", "http://")):
        failures.append(Failure("host", f"{host!r} is not a workspace URL (https://<workspace>)"))
    poll = news.get("pollSeconds")
    if poll not in (None, wire.UNKNOWN) and not (isinstance(poll, float) and poll > 0):
        failures.append(Failure("pollSeconds", "must be a positive number"))
    return failures


def changed_settings(olds: PropertyMap, news: PropertyMap) -> list[str]:
    return [key for key in SETTINGS if olds.get(key) != news.get(key)]


class Workspace:
    """The configured workspace: its settings, the poll policy, and the client built from them once."""

    def __init__(self, pool: ThreadPoolExecutor, engine: EngineLog):
        self.pool, self.engine = pool, engine
        self.settings: dict[str, Any] = {}
        self.policy = policy_of(None)
        self._client: ServingClient | None = None
        self._lock = threading.Lock()
        self._said_no_credentials = False

    def configure(self, args: PropertyMap, variables: PropertyMap) -> None:
        """Configure's arguments; older engines send the configuration as `variables`
        ("servingops:config:host") as well."""
        settings = {key: value for key, value in args.items() if value not in (None, "", wire.UNKNOWN)}
        for key, value in variables.items():
            settings.setdefault(key.rsplit(":", 1)[-1], value)
        self.settings = {f"databricks:{key}": value for key, value in settings.items() if key != "pollSeconds"}
        self.policy = policy_of(float(settings["pollSeconds"]) if "pollSeconds" in settings else None)
        with self._lock:
            self._client = None

    def client(self) -> ServingClient:
        """The workspace client, built on first use in a worker thread (OAuth discovery may do I/O)."""
        with self._lock:
            if self._client is None:
                values = self.settings
                self._client = ServingClient(sdk_config(lambda key: values.get(key)))
            return self._client

    def optional_client(self) -> ServingClient | None:
        """The workspace client, or None when unified authentication finds no credentials at all."""
        try:
            return self.client()
        except MissingCredentialsError:
            return None

    async def client_for(self, urn: str, needs_credentials: bool) -> ServingClient | None:
        """The client for a resource's work; one that can do without is given None, and the user is told once."""
        loop = asyncio.get_running_loop()
        if needs_credentials:
            return await loop.run_in_executor(self.pool, self.client)
        client = await loop.run_in_executor(self.pool, self.optional_client)
        if client is None and not self._said_no_credentials:
            self._said_no_credentials = True
            self.engine.warning(
                urn,
                "servingops: no workspace credentials (neither the provider's configuration "
                "nor DATABRICKS_* variables or a profile): preflight skipped; to check the "
                f"workspace, set {CREDENTIAL_SETTINGS}",
            )
        return client
