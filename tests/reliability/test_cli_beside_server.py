"""`citeqa index add` beside a running `citeqa serve` on the same index: no query fails,
and the server serves the new document without a restart."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import cli_add

pytestmark = pytest.mark.slow
QUESTION = {"question": "How many people has Mexico extradited?"}


def test_cli_write_beside_a_running_server(served_index: tuple[str, Path], tmp_path: Path) -> None:
    url, index_dir = served_index
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def ask() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                statuses[client.post("/v1/query", json=QUESTION).status_code] += 1

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        for number in range(2):  # two writes: the first generation would be pruned by the 2nd
            article = tmp_path / f"cli-{number}.txt"
            article.write_text(f"The port of Progreso counted {number + 7} cruise ships.\n")
            added = cli_add(article, index_dir)
            assert added.returncode == 0, added.stderr[-2000:]
        time.sleep(1.5)  # the server checks CURRENT at most once a second
    finally:
        stop.set()
        asker.join()

    assert statuses[200] > 0 and set(statuses) == {200}, statuses
    for number in range(2):
        assert httpx.get(f"{url}/v1/documents/cli-{number}", timeout=10).status_code == 200
    ready = httpx.get(f"{url}/readyz", timeout=10).json()
    assert ready["documents"] == 7
    print(f"\nqueries during two CLI writes: {sum(statuses.values())}, all 200")
