"""How `citeqa serve` runs uvicorn: time limits on reading a request, and a connection cap.

uvicorn times out an idle keep-alive connection, but not a request that is being sent: a
client that sends half its headers (or a body shorter than it declared, or
``Transfer-Encoding: chunked`` and nothing after) holds its connection open forever, and
enough of them exhaust the server. Here each request must arrive whole, headers and body,
within ``read_timeout_s`` of its first byte (or of the connection, for the first request);
otherwise the connection is closed.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from citeqa.config import Settings
from service.errors import AddressUnavailableError

log = logging.getLogger("citeqa.http")
READ_TIMEOUT_VARIABLE = "CITEQA_REQUEST_READ_TIMEOUT_S"
# Seconds an idle keep-alive connection stays open between requests (uvicorn's default).
KEEP_ALIVE_S = 5


class ReadTimeoutH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request does not arrive
    whole within :attr:`read_timeout_s`."""

    read_timeout_s = 15.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request."""
        self._read_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Stop the clock once the request is in; start it when the next one begins."""
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._read_timer is None and not self.transport.is_closing():
            self._read_timer = self.loop.call_later(self.read_timeout_s, self._on_read_timeout)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _on_read_timeout(self) -> None:
        self._read_timer = None
        # A request still arriving, or none begun on a fresh connection (a complete one is
        # being answered, and an idle keep-alive connection has uvicorn's own timer).
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            log.info("closing a connection whose request took over %g s", self.read_timeout_s)
            self.transport.close()


class WorkerReadTimeoutH11Protocol(ReadTimeoutH11Protocol):
    """The same protocol for worker processes, named by its import path: uvicorn spawns
    workers, which cannot receive a class made at run time. Its limit is the environment's
    ``CITEQA_REQUEST_READ_TIMEOUT_S``, which ``citeqa serve`` sets before it starts them."""

    read_timeout_s = float(
        os.environ.get(READ_TIMEOUT_VARIABLE, ReadTimeoutH11Protocol.read_timeout_s)
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` (besides the app)."""
    protocol = type(
        "ReadTimeoutH11Protocol",
        (ReadTimeoutH11Protocol,),
        {"read_timeout_s": settings.request_read_timeout_s},
    )
    return {
        "http": protocol,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "limit_concurrency": settings.max_connections,
    }


def worker_server_options(settings: Settings) -> dict[str, Any]:
    """:func:`server_options` for ``uvicorn.run(..., workers=N)``: every value picklable,
    the protocol by name. Sets the environment the spawned workers read."""
    os.environ[READ_TIMEOUT_VARIABLE] = repr(settings.request_read_timeout_s)
    return {
        **server_options(settings),
        "http": f"{__name__}:{WorkerReadTimeoutH11Protocol.__name__}",
    }


def check_address(host: str, port: int) -> None:
    """Refuse an address the server could not listen on, before minutes of model loading
    end in uvicorn's own bind error (a log line and exit code 3).

    Raises:
        AddressUnavailableError: The port is in use or not allowed, or no interface has
            the host's address.
    """
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise AddressUnavailableError(
            f"cannot serve on {where}: {error.strerror}; set --host (CITEQA_HOST) to "
            "127.0.0.1, 0.0.0.0 or an address of this machine"
        ) from error
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        # As uvicorn binds: a port a closed server left in TIME_WAIT is free to reuse.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise AddressUnavailableError(f"cannot serve on {where}: {_why(error)}") from error


def _why(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "the port is in use (another citeqa serve?); stop it or pick --port (CITEQA_PORT)"
    if error.errno == errno.EACCES:
        return "not allowed to listen on that port (below 1024 needs root); pick --port 8000"
    if error.errno == errno.EADDRNOTAVAIL:
        return "no interface of this machine has that address; set --host (CITEQA_HOST)"
    return f"{error.strerror or error}; pick another --host or --port"
