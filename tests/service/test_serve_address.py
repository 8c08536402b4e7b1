"""`citeqa serve` refuses an address it cannot listen on before any model loads."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citeqa.cli import app
from service.errors import AddressUnavailableError
from service.http_server import check_address


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another server is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_free_port_passes() -> None:
    check_address("127.0.0.1", _free_port())


def test_a_port_in_use_is_refused_with_what_to_do(taken_port: int) -> None:
    with pytest.raises(AddressUnavailableError, match="the port is in use") as raised:
        check_address("127.0.0.1", taken_port)
    assert f"127.0.0.1:{taken_port}" in str(raised.value) and "--port" in str(raised.value)


@pytest.mark.parametrize(
    ("host", "reason"),
    [("no-such-host.invalid", "--host"), ("192.0.2.1", "no interface of this machine")],
)
def test_a_host_that_is_not_this_machine_is_refused(host: str, reason: str) -> None:
    with pytest.raises(AddressUnavailableError, match=reason):
        check_address(host, _free_port())


def test_serve_on_a_port_in_use_fails_cleanly_without_loading_models(
    taken_port: int, tmp_path: Path
) -> None:
    # No index here either: the address is checked first, so nothing else is reached.
    result = CliRunner().invoke(
        app, ["serve", "--port", str(taken_port), "--index-dir", str(tmp_path / "none")]
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: cannot serve on 127.0.0.1:{taken_port}: ")
    assert "Traceback" not in result.output
