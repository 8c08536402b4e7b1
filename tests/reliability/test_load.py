"""Load: 8 clients for 30 s against `citeqa serve` on 127.0.0.1 while a writer adds a
document every 2 s; no request fails, and every acknowledged document is there at the end.
Bounded in time (DURATION_S) and in count (MAX_REQUESTS)."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY

pytestmark = pytest.mark.slow
CLIENTS = 8
DURATION_S = 30.0
WRITE_EVERY_S = 2.0
MAX_REQUESTS = 20_000
QUESTIONS = [
    "How many people has Mexico extradited?",
    "How many people did Mexico extradite in February?",
    "Who won the 2022 World Cup?",
]


class Load:
    """What the clients saw: one status (or error name) and latency per request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.latencies_ms: list[float] = []

    def record(self, outcome: str, started: float) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            self.latencies_ms.append((time.perf_counter() - started) * 1000)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _client(url: str, number: int, stop_at: float, load: Load) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for step in itertools.count(number):
            if time.monotonic() >= stop_at or load.outcomes.total() >= MAX_REQUESTS:
                return
            started = time.perf_counter()
            try:
                if step % 4 == 3:  # a read of the document list between questions
                    response = client.get("/v1/documents")
                else:
                    question = QUESTIONS[step % len(QUESTIONS)]
                    response = client.post("/v1/query", json={"question": question})
                load.record(str(response.status_code), started)
            except httpx.HTTPError as error:
                load.record(type(error).__name__, started)


def _writer(url: str, stop_at: float, acknowledged: list[str], refused: list[str]) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        for number in itertools.count():
            due = stop_at - DURATION_S + number * WRITE_EVERY_S
            if due >= stop_at:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            doc_id = f"load-{number:03d}"
            text = f"The pier at Progreso logged {number + 100} arrivals on day {number}.\n"
            response = client.post("/v1/documents", json={"doc_id": doc_id, "text": text})
            (acknowledged if response.status_code == 200 else refused).append(
                f"{doc_id}: {response.status_code}"
            )


def test_load_with_writes_every_two_seconds(served_index: tuple[str, Path]) -> None:
    url, _ = served_index
    load = Load()
    acknowledged: list[str] = []
    refused: list[str] = []
    stop_at = time.monotonic() + DURATION_S
    threads = [
        threading.Thread(target=_client, args=(url, number, stop_at, load))
        for number in range(CLIENTS)
    ]
    threads.append(threading.Thread(target=_writer, args=(url, stop_at, acknowledged, refused)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION_S + 120)
    load_average = os.getloadavg()[0]

    assert not any(thread.is_alive() for thread in threads)
    assert refused == []
    assert set(load.outcomes) == {"200"}, load.outcomes
    ids = [entry.split(":")[0] for entry in acknowledged]
    assert len(ids) >= DURATION_S / WRITE_EVERY_S - 1
    listed = {d["doc_id"] for d in httpx.get(f"{url}/v1/documents", timeout=30).json()["data"]}
    assert set(ids) <= listed
    for doc_id in ids:
        assert httpx.get(f"{url}/v1/documents/{doc_id}", timeout=30).status_code == 200
    print(
        f"\nload: {CLIENTS} clients, {DURATION_S:g} s, {load.outcomes.total()} requests, "
        f"{load.outcomes.total() - load.outcomes['200']} errors, "
        f"p50 {load.percentile(0.5):.0f} ms, p99 {load.percentile(0.99):.0f} ms, "
        f"{len(ids)} writes acknowledged and present, 1-min load average {load_average:.1f}"
    )
