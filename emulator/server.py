"""Serving the app with uvicorn on a loopback socket we bind ourselves.

Binding first means port 0 works (the OS picks a free port and we know it before uvicorn starts,
with no race), and a non-loopback address is refused before anything listens.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import uvicorn

from emulator.app import create_app
from emulator.settings import EmulatorSettings
from emulator.state import Workspace


class NotLoopbackError(ValueError):
    pass


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotLoopbackError(
            f"refusing to listen on {host!r}: the emulator accepts well-known tokens and must stay on loopback "
            "(use 127.0.0.1, ::1 or localhost)"
        )


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    check_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class EmulatorServer(uvicorn.Server):
    """uvicorn's server, with hooks run once it has stopped serving: uvicorn re-raises the SIGINT or SIGTERM
    that stopped it when `run` returns, so code after `run` would never run on a signal."""

    def __init__(self, config: uvicorn.Config, workspace: Workspace):
        super().__init__(config)
        self.workspace = workspace
        """The served app's workspace (uvicorn's `config.app` is typed as any ASGI app)."""
        self.on_stop: list[Callable[[], None]] = []

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        for hook in self.on_stop:
            hook()


def make_server(
    settings: EmulatorSettings, log_level: str = "warning", data_plane_url: str | None = None
) -> EmulatorServer:
    """`data_plane_url`: the URL of a second socket the same server listens on, where route-optimized
    endpoints are queried (pass both sockets to `Server.run(sockets=[...])`)."""
    app = create_app(settings, data_plane_url=data_plane_url)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),  # access lines carry no headers, so no tokens
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    workspace: Workspace = app.state.workspace
    return EmulatorServer(config, workspace)


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
