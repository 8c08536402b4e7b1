"""A real `citeqa serve` process on 127.0.0.1 over a private copy of the seed index."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, REPO, _free_port


def cli_add(path: Path, index_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``citeqa index add PATH --index-dir DIR`` in its own process, one build thread."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "citeqa.cli",
            "index",
            "add",
            str(path),
            "--index-dir",
            str(index_dir),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "CITEQA_INDEX_WORKERS": "1"},
    )


@contextmanager
def running_server(
    index_dir: Path, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start `citeqa serve` over ``index_dir``; its URL once /readyz answers 200."""
    port = _free_port()
    server_env = {
        **os.environ,
        "CITEQA_INDEX_DIR": str(index_dir),
        "CITEQA_API_KEY": API_KEY,
        **(env or {}),
    }
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "citeqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "the server did not become ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture
def served_index(writable_index_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The server's URL and index folder; it answers /readyz 200 before the test starts."""
    with running_server(writable_index_dir, tmp_path / "server.log") as url:
        yield url, writable_index_dir
