"""Request ids: the client's own when it is a plain token, a fresh one otherwise, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.middleware import safe_request_id


@pytest.mark.parametrize(
    "raw", [b"\xe9", b"caf\xc3\xa9", b"a b", b"a\tb", b"x" * 65, b"\x00", b"", b"   "]
)
def test_odd_request_ids_are_replaced(client: TestClient, raw: bytes) -> None:
    response = client.get("/healthz", headers={b"X-Request-ID": raw})
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32 and request_id.isalnum()
    assert client.post("/v1/query", json={"question": "ok?"}, headers={b"X-Request-ID": raw})


def test_a_plain_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
    assert response.headers["x-request-id"] == "trace-42.a:b"


def test_safe_request_id_never_raises() -> None:
    for value in (bytes([b]) for b in range(256)):
        assert safe_request_id(value).isascii()
