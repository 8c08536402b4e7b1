"""1,500 half-open connections are closed, and the server answers again once they are.

The audit's reproduction: `citeqa serve` accepted 1,500 connections that each sent half a
request and kept every one open. Here the read limit is 2 s: each flooding connection must
be closed by the server within 12 s, and `/healthz` must then answer 200 within 1 s."""

from __future__ import annotations

import selectors
import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import running_server

pytestmark = pytest.mark.slow
CONNECTIONS = 1500
READ_TIMEOUT_S = 2
CLOSED_WITHIN_S = 12.0
HALF_SENT = b"POST /v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"


def _open_half_sent(host: str, port: int, count: int) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(HALF_SENT)
        sock.setblocking(False)
        opened.append(sock)
    return opened


def _wait_until_closed(sockets: list[socket.socket], within_s: float) -> int:
    """How many of ``sockets`` the server has not closed after ``within_s`` seconds."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ, data=sock)
    open_count, deadline = len(sockets), time.monotonic() + within_s
    while open_count and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            connection: socket.socket = key.data
            try:
                data = connection.recv(65_536)
            except BlockingIOError:  # woken with nothing to read yet
                continue
            except ConnectionResetError:
                data = b""
            # An error reply (503 over the connection cap) is read past, until it closes.
            if not data:
                selector.unregister(connection)
                open_count -= 1
    selector.close()
    return open_count


def test_half_open_connections_are_closed(tmp_path: Path, seed_index_dir: Path) -> None:
    shutil.copytree(seed_index_dir, tmp_path / "index")
    env = {"CITEQA_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}
    with running_server(tmp_path / "index", tmp_path / "server.log", env) as url:
        host, port = url.removeprefix("http://").split(":")
        sockets = _open_half_sent(host, int(port), CONNECTIONS)
        try:
            still_open = _wait_until_closed(sockets, CLOSED_WITHIN_S)
        finally:
            for sock in sockets:
                sock.close()
        assert still_open == 0, f"{still_open} of {CONNECTIONS} connections still open"
        started = time.monotonic()
        health = httpx.get(f"{url}/healthz", timeout=5)
        assert health.status_code == 200
        assert time.monotonic() - started < 1.0
