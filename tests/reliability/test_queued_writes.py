"""Writes queued behind another process's writer lock never freeze reads, and each gets a
503 with Retry-After after a few seconds instead of waiting minutes.

The audit's reproduction: the lock held from another process and 45 authenticated writes
sent at once froze /healthz, /v1/query and /v1/models until the lock was freed."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from indexer.locks import WRITER_LOCK
from tests.conftest import API_KEY

pytestmark = pytest.mark.slow
WRITES = 45
QUESTION = {"question": "How many people has Mexico extradited?"}


@contextmanager
def lock_held(index_dir: Path) -> Iterator[None]:
    """The index's writer lock, held as another process's writer would hold it."""
    fd = os.open(index_dir / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # an open file of its own: it excludes the server
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write(url: str, number: int, outcomes: list[httpx.Response]) -> None:
    document = {"doc_id": f"queued-{number}", "text": f"Pier {number} reopened on Monday.\n"}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    outcomes.append(httpx.post(f"{url}/v1/documents", json=document, headers=headers, timeout=60))


def test_queued_writes_leave_reads_free_and_get_503_with_retry_after(
    served_index: tuple[str, Path],
) -> None:
    url, index_dir = served_index
    outcomes: list[httpx.Response] = []
    with lock_held(index_dir):
        writers = [threading.Thread(target=_write, args=(url, n, outcomes)) for n in range(WRITES)]
        sent = time.monotonic()
        for writer in writers:
            writer.start()
        time.sleep(1.0)  # every write is queued or waiting for the lock by now
        timings = {}
        with httpx.Client(base_url=url, timeout=30) as client:
            for method, path, body in [
                ("GET", "/healthz", None),
                ("POST", "/v1/query", QUESTION),
                ("GET", "/v1/models", None),
            ]:
                started = time.monotonic()
                response = client.request(method, path, json=body)
                timings[path] = time.monotonic() - started
                assert response.status_code == 200, response.text
        for writer in writers:
            writer.join(timeout=60)
        answered = time.monotonic() - sent
    assert all(seconds < 1.0 for seconds in timings.values()), timings
    assert len(outcomes) == WRITES
    assert {r.status_code for r in outcomes} == {503}, [r.text for r in outcomes[:3]]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in outcomes)
    assert "retry" in outcomes[0].json()["detail"]
    assert answered < 15, f"the writes waited {answered:.1f} s for a 503"

    print(
        f"\nwith {WRITES} writes queued: " + ", ".join(f"{p} {s:.3f} s" for p, s in timings.items())
    )
    # Once the lock is free, writes go through again.
    _write(url, 0, outcomes)
    assert outcomes[-1].status_code == 200, outcomes[-1].text
