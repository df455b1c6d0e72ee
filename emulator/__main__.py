"""`python -m emulator --port 8080 [--data-plane-port 0] [--host 127.0.0.1] [--settings file.yaml] [--state-file F]`"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emulator import persistence
from emulator.server import NotLoopbackError, bind_loopback, make_server, url_of
from emulator.settings import EmulatorSettings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description="Local Databricks serving emulator")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port (printed on start)")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address; anything else is refused")
    parser.add_argument(
        "--data-plane-port",
        type=int,
        default=0,
        help="where route-optimized endpoints are queried; 0 picks a free port",
    )
    parser.add_argument("--settings", help="YAML file of EmulatorSettings fields")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument(
        "--state-file",
        type=Path,
        help="keep the endpoints across runs: restored from this file on start, saved to it on stop",
    )
    args = parser.parse_args(argv)

    settings = load_settings(args.settings)
    try:
        sock = bind_loopback(args.host, args.port)
        data_plane_sock = bind_loopback(args.host, args.data_plane_port)
    except NotLoopbackError as error:
        parser.error(str(error))
    url, data_plane_url = url_of(sock), url_of(data_plane_sock)
    # The first line is read by emulator.testing.emulator_process: keep its shape.
    print(f"Databricks serving emulator listening on {url}", flush=True)
    print(f"Route-optimized endpoints are queried on {data_plane_url} (OAuth tokens only)", flush=True)
    print(_admin_token_hint(settings, args.settings), flush=True)
    principals = ", ".join(f"{p.principal}{' (admin)' if p.is_admin else ''}" for p in settings.tokens.values())
    print(f"Workspace principals with a token: {principals}", flush=True)
    print(
        f"OAuth M2M clients (service principals with a secret): {', '.join(settings.oauth_clients) or 'none'}",
        flush=True,
    )
    print(f"Models: {', '.join(settings.models)}", flush=True)
    server = make_server(settings, args.log_level, data_plane_url=data_plane_url)
    workspace = server.workspace
    if args.state_file is not None:
        restored = persistence.load(workspace, args.state_file)
        print(f"Endpoints restored from {args.state_file}: {restored}", flush=True)
        server.on_stop.append(lambda: persistence.save(workspace, args.state_file))
    server.run(sockets=[sock, data_plane_sock])  # until SIGINT or SIGTERM
    return 0


def _admin_token_hint(settings: EmulatorSettings, settings_file: str | None) -> str:
    if "admin_token" in settings.model_fields_set:
        return (
            f"Admin API: /_emulator with the admin_token from {settings_file or 'the settings'} "
            f"(starts with {settings.admin_token[:4]!r})"
        )
    # Generated for this run only: without printing it nobody could use the admin API.
    return f"Admin API: /_emulator with 'Authorization: Bearer {settings.admin_token}' (generated for this run)"


if __name__ == "__main__":
    sys.exit(main())
