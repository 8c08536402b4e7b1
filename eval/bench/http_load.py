"""The pieces of an HTTP load run: a `citeqa serve` child, clients, and their figures.

``eval.bench.load`` (queries/s and latency by number of clients) and ``eval.bench.scale``
(its end-to-end figures) share them. Clients are threads in this process, each with one
keep-alive connection (``http.client``: the lightest client, so the load generator takes
as little of a small machine's CPU as it can); every figure is seen from the client.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import psutil

REQUEST_TIMEOUT_S = 30.0
# A run never sends more than this many queries per level, whatever --seconds says.
MAX_QUERIES_PER_LEVEL = 200_000


@dataclass(frozen=True)
class Latencies:
    """Percentiles of one set of client-side latencies, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, times_ms: Sequence[float]) -> Latencies:
        """The percentiles of ``times_ms`` (NaN for none)."""
        if not times_ms:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan)
        p50, p95, p99 = (float(v) for v in np.percentile(times_ms, [50, 95, 99]))
        return cls(len(times_ms), p50, p95, p99, float(max(times_ms)))


@dataclass(frozen=True)
class LevelResult:
    """One load level: ``clients`` asking back to back for ``seconds``."""

    clients: int
    seconds: float
    queries: int
    errors: int
    queries_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    # CPU time over wall time, in cores (2.0 is both cores of this machine).
    server_cpu_cores: float | None
    # The server's CPU time per answered query: what bounds queries/s on an idle machine
    # (cores / this), and less sensitive to a shared machine's load than latency is.
    server_cpu_ms_per_query: float | None
    client_cpu_cores: float
    load_1m: float

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain JSON values."""
        return asdict(self)


# What a client sends for a question: method, path and JSON body (None for a GET).
Route = Callable[[str], tuple[str, str, str | None]]


def citeqa_query(question: str) -> tuple[str, str, str | None]:
    """``POST /v1/query``, the question with the server's defaults."""
    return "POST", "/v1/query", json.dumps({"question": question})


class QueryClient:
    """One keep-alive connection that asks questions (``POST /v1/query`` unless told)."""

    def __init__(self, url: str, route: Route = citeqa_query) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._route = route
        self._connection: http.client.HTTPConnection | None = None

    def ask(self, question: str) -> tuple[float, bool]:
        """Milliseconds the answer took, and whether it was a 200 with a JSON body."""
        method, path, body = self._route(question)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        try:
            connection = self._connect()
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            payload = response.read()
            ok = response.status == 200 and payload[:1] in (b"{", b"[")
        except (OSError, http.client.HTTPException):
            self.close()  # a fresh connection for the next question
            ok = False
        return (time.perf_counter() - started) * 1000, ok

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self._host, self._port, timeout=REQUEST_TIMEOUT_S
            )
        return self._connection

    def close(self) -> None:
        """Close the connection (the next question opens another)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def ask_in_turn(
    url: str, questions: Sequence[str], count: int, route: Route = citeqa_query
) -> list[float]:
    """Latencies of ``count`` questions asked one after another by one client.

    Raises:
        RuntimeError: a question got no answer (a non-200 or a failed connection).
    """
    client = QueryClient(url, route)
    times = []
    try:
        for number in range(count):
            question = questions[number % len(questions)]
            elapsed_ms, ok = client.ask(question)
            if not ok:
                raise RuntimeError(f"{url} gave no answer to {question!r}")
            times.append(elapsed_ms)
    finally:
        client.close()
    return times


def _cpu_seconds(process: psutil.Process | None, children: bool = True) -> float:
    """CPU seconds of ``process``, and of its children (the workers of `citeqa serve`)."""
    if process is None:
        return 0.0
    total = 0.0
    for member in (process, *(process.children(recursive=True) if children else ())):
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def run_level(
    url: str,
    questions: Sequence[str],
    clients: int,
    seconds: float,
    server_pid: int | None = None,
    route: Route = citeqa_query,
) -> LevelResult:
    """``clients`` threads ask ``questions`` (shared, in turn) back to back for ``seconds``."""
    if clients < 1 or seconds <= 0:
        raise ValueError("clients must be at least 1 and seconds above 0")
    server = psutil.Process(server_pid) if server_pid else None
    this = psutil.Process()
    # The clients' own CPU only: the server may be this process's child.
    server_before, client_before = _cpu_seconds(server), _cpu_seconds(this, children=False)
    started = time.monotonic()
    times, errors = _ask_back_to_back(url, questions, clients, seconds, route)
    wall = time.monotonic() - started
    server_cpu = _cpu_seconds(server) - server_before if server else None
    latencies = Latencies.of(times)
    return LevelResult(
        clients=clients,
        seconds=wall,
        queries=len(times),
        errors=errors,
        queries_per_s=len(times) / wall,
        p50_ms=latencies.p50_ms,
        p95_ms=latencies.p95_ms,
        p99_ms=latencies.p99_ms,
        server_cpu_cores=server_cpu / wall if server_cpu is not None else None,
        server_cpu_ms_per_query=server_cpu * 1000 / len(times)
        if server_cpu is not None and times
        else None,
        client_cpu_cores=(_cpu_seconds(this, children=False) - client_before) / wall,
        load_1m=os.getloadavg()[0],
    )


def _ask_back_to_back(
    url: str, questions: Sequence[str], clients: int, seconds: float, route: Route
) -> tuple[list[float], int]:
    """The milliseconds of each answered question, and the count of failed ones."""
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    next_question = iter(range(MAX_QUERIES_PER_LEVEL))
    deadline = time.monotonic() + seconds

    def client_loop() -> None:
        client = QueryClient(url, route)
        try:
            while time.monotonic() < deadline:
                with lock:
                    number = next(next_question, None)
                if number is None:
                    return
                elapsed_ms, ok = client.ask(questions[number % len(questions)])
                with lock:
                    if ok:
                        times.append(elapsed_ms)
                    else:
                        errors[0] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT_S + 5)
    return times, errors[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, child: subprocess.Popen[bytes], timeout_s: float) -> float:
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"`citeqa serve` exited with {child.returncode} before ready")
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=2)
        try:
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return time.monotonic()
        except OSError:
            pass  # not listening yet
        finally:
            connection.close()
        time.sleep(0.05)
    raise RuntimeError(f"`citeqa serve` was not ready within {timeout_s:.0f} s")


@dataclass(frozen=True)
class Server:
    """A running `citeqa serve`: where it listens, its process id, when it became ready."""

    url: str
    pid: int
    ready_s: float


@contextmanager
def served(
    index_dir: Path,
    environment: Mapping[str, str] | None = None,
    ready_timeout_s: float = 300.0,
) -> Iterator[Server]:
    """`citeqa serve` over ``index_dir`` in a child process, ready (warm) until the block ends.

    ``environment`` adds ``CITEQA_`` settings (threads, reader, ...) to this process's own.
    """
    port = free_port()
    env = {**os.environ, **(environment or {}), "CITEQA_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "citeqa.cli", "serve", "--index-dir", str(index_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    started = time.monotonic()
    # Its log goes to our stderr (fd 2, inherited): with --json, stdout ends with the result.
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        ready_at = _wait_ready(url, child, ready_timeout_s)
        yield Server(url, child.pid, ready_at - started)
    finally:
        stop(child)


def stop(child: subprocess.Popen[bytes]) -> None:
    """End a server child: asked first, killed after 15 s."""
    child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=15)
