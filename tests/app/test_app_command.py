"""``nephrosim app`` refuses an address it cannot listen on, before it starts anything."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from nephrosim.cli import app


def test_a_port_in_use_is_refused_with_the_fix():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["app", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "choose another port with --port" in result.output
    assert "nephrosim app on" not in result.output


def test_out_of_range_options_are_refused():
    for args, message in ((["--port", "70000"], "--port 70000: use a port from 1 to 65535"),
                          (["--workers", "0"], "--workers 0: use at least 1")):
        result = CliRunner().invoke(app, ["app", *args])
        assert result.exit_code == 2 and message in result.output
