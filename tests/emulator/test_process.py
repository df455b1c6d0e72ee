"""`python -m emulator` as a separate process, and the loopback-only rule."""

from __future__ import annotations

import pytest

from emulator.__main__ import main
from emulator.server import NotLoopbackError, check_loopback
from emulator.testing import emulator_process
from tests.emulator.support import DEPLOYER, FAST, ROW, WorkspaceApi, entity


def test_emulator_runs_as_a_process_with_a_settings_file():
    with emulator_process(**FAST) as emu:
        api = WorkspaceApi(emu)
        api.create_ready("ep", [entity("1")])

        endpoint = emu.workspace_client().serving_endpoints.get("ep")

        assert endpoint.state.ready.value == "READY"
        assert emu.counters()["get_calls"]["ep"] >= 1


def test_the_process_serves_route_optimized_endpoints_on_its_data_plane_listener():
    with emulator_process(**FAST) as emu:
        WorkspaceApi(emu, DEPLOYER).create_ready("fast", [entity("1")], route_optimized=True)

        answer = emu.oauth_workspace_client().serving_endpoints_data_plane.query("fast", dataframe_records=[ROW])

        assert emu.data_plane_url is not None and emu.data_plane_url != emu.url
        assert answer.served_model_name == "risk_classifier-1"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_command_line_refuses_a_non_loopback_host(host, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", host, "--port", "0"])

    assert exit_info.value.code == 2
    assert "must stay on loopback" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host):
    check_loopback(host)


def test_non_loopback_host_raises():
    with pytest.raises(NotLoopbackError):
        check_loopback("10.0.0.1")
