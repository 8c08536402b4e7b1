"""Big query bodies cost the server nothing: refused by size before they are read, and a
body that breaks the schema in many places gets a short 422.

The audit's reproduction: 200,000 unknown keys (2.3 MB) in a query got an 8 MB 422, one line
per key, and stalled /healthz 1.1 s meanwhile."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY

pytestmark = pytest.mark.slow
UNKNOWN_KEYS = 200_000


def _hostile_body(keys: int, document: bool = False) -> bytes:
    body: dict[str, object] = (
        {"doc_id": "hostile", "text": "Pier 4 reopened."}
        if document
        else {"question": "How many people has Mexico extradited?"}
    )
    body.update({f"k{n}": n for n in range(keys)})
    return json.dumps(body).encode()


def test_many_unknown_keys_get_a_short_422(client: TestClient) -> None:
    body = _hostile_body(1000)
    assert len(body) < 16_384
    response = client.post("/v1/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) < 2000 and detail.endswith("and 990 more problems"), detail[:300]


def test_a_query_body_over_its_cap_is_413(client: TestClient) -> None:
    response = client.post(
        "/v1/query",
        json={
            "question": "How many people has Mexico extradited?",
            "filters": {"sources": ["x" * 20_000]},
        },
    )
    assert response.status_code == 413
    assert "CITEQA_MAX_QUERY_BODY_BYTES" in response.json()["detail"]


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 65_536):
        yield body[start : start + 65_536]


@pytest.mark.parametrize(
    ("path", "framing"),
    [
        ("/v1/query", "content-length"),
        ("/v1/query", "chunked"),
        # A writer's document body is read whole (up to CITEQA_MAX_BODY_BYTES): it is parsed
        # and checked in the thread pool, so its 200,000 problems cost the event loop nothing.
        ("/v1/documents", "content-length"),
    ],
)
def test_a_huge_body_leaves_the_event_loop_free(
    path: str, framing: str, served_index: tuple[str, Path]
) -> None:
    url, _ = served_index
    body = _hostile_body(UNKNOWN_KEYS, document=path == "/v1/documents")
    assert len(body) > 2_300_000
    headers = {"content-type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    replies: list[httpx.Response] = []
    done = threading.Event()

    def send() -> None:
        for _ in range(2):  # two, as the audit sent
            content = body if framing == "content-length" else _chunks(body)
            replies.append(httpx.post(f"{url}{path}", content=content, headers=headers, timeout=60))
        done.set()

    sender = threading.Thread(target=send)
    timings: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        sender.start()
        while not done.is_set():
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            timings.append(time.monotonic() - started)
            time.sleep(0.02)
    slowest = max(timings, default=0.0)
    sender.join()
    assert slowest < 0.5, f"/healthz took {slowest:.2f} s"
    for reply in replies:
        assert reply.status_code in (413, 422), reply.text[:300]
        assert len(reply.content) < 100_000
    statuses = [r.status_code for r in replies]
    print(f"\n{path} {framing}: slowest /healthz {slowest * 1000:.0f} ms, replies {statuses}")
