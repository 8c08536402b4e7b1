"""The optional read key, per-client rate limits, JSON-only bodies and the query deadline.

The audit's reproductions: no way to guard reads; 300 wrong-key tries in 0.4 s all got 401,
never 429; chat accepted ``Content-Type: text/plain`` (a cross-site form can send it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citeqa.config import (
    DEFAULT_RATE_LIMIT_AUTH_FAILURES,
    DEFAULT_RATE_LIMIT_QUERIES,
    Settings,
)
from indexer.processing import DocumentProcessor
from tests.conftest import API_KEY

READ_KEY = "read-key-456"
QUESTION = {"question": "How many people has Mexico extradited?"}
CHAT = {"model": "citeqa", "messages": [{"role": "user", "content": QUESTION["question"]}]}


def _client(
    index_dir: Path, settings: Settings, processor: DocumentProcessor, **changes: Any
) -> TestClient:
    from service.main import create_app
    from service.state import load_state

    app_settings = settings.model_copy(
        update={"index_dir": index_dir, "api_key": API_KEY, **changes}
    )
    return TestClient(create_app(app_settings, load_state(app_settings, processor)))


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory,
    seed_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
) -> Iterator[TestClient]:
    """An app with a read key and both rate limits, over its own copy of the seeds."""
    import shutil

    index_dir = tmp_path_factory.mktemp("guarded") / "index"
    shutil.copytree(seed_index_dir, index_dir)
    with _client(
        index_dir,
        settings,
        processor,
        read_key=READ_KEY,
        rate_limit_queries="4/minute",
        rate_limit_auth_failures="20/minute",
    ) as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_read_key_guards_every_read_route(guarded: TestClient) -> None:
    for method, path in [
        ("GET", "/v1/documents"),
        ("GET", "/v1/documents/002_b8ec4b7f77a3a021"),
        ("GET", "/v1/models"),
        ("GET", "/metrics"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
    ]:
        refused = guarded.request(method, path)
        assert refused.status_code == 401, (path, refused.text)
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert "CITEQA_READ_KEY" in refused.text
        for key in (READ_KEY, API_KEY):  # the write key reads too
            assert guarded.request(method, path, headers=_bearer(key)).status_code == 200, path
    assert guarded.get("/v1/models").json()["error"]["message"]  # OpenAI's shape on chat paths
    assert guarded.get("/healthz").status_code == 200


def test_readyz_hides_absolute_paths_without_the_read_key(guarded: TestClient) -> None:
    anonymous = guarded.get("/readyz").json()
    assert anonymous["index_dir"] == "index"
    assert "/" not in anonymous["reader_model"]
    keyed = guarded.get("/readyz", headers=_bearer(READ_KEY)).json()
    assert keyed["index_dir"].startswith("/") and keyed["index_dir"].endswith("/index")


def test_queries_over_the_rate_limit_get_429_with_retry_after(guarded: TestClient) -> None:
    statuses = []
    for _ in range(3):
        statuses.append(guarded.post("/v1/query", json=QUESTION, headers=_bearer(READ_KEY)))
        statuses.append(guarded.post("/v1/chat/completions", json=CHAT, headers=_bearer(READ_KEY)))
    assert [r.status_code for r in statuses] == [200] * 4 + [429] * 2
    limited = statuses[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "CITEQA_RATE_LIMIT_QUERIES" in limited.json()["error"]["message"]


def test_wrong_keys_are_rate_limited(guarded: TestClient) -> None:
    """300 wrong-key writes: after the allowed failures, 429, even with a new key each time."""
    statuses = [
        guarded.post(
            "/v1/documents", json={"doc_id": "x", "text": "x"}, headers=_bearer(f"k{n}")
        ).status_code
        for n in range(300)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429 and statuses.count(401) <= 20
    limited = guarded.get("/v1/documents", headers=_bearer(READ_KEY))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_bodies_must_be_declared_json(client: TestClient) -> None:
    text = {"content-type": "text/plain"}
    chat = client.post("/v1/chat/completions", content=str(CHAT).encode(), headers=text)
    assert chat.status_code == 415 and "application/json" in chat.json()["error"]["message"]
    query = client.post("/v1/query", content=b'{"question": "Who?"}', headers=text)
    assert query.status_code == 415 and "application/json" in query.json()["detail"]
    assert client.post("/v1/query", json=QUESTION).status_code == 200


def test_a_query_past_its_deadline_is_504(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    with _client(writable_index_dir, settings, processor, query_timeout_s=0.0001) as client:
        late = client.post("/v1/query", json=QUESTION)
        assert late.status_code == 504
        assert "CITEQA_QUERY_TIMEOUT_S" in late.json()["detail"]
        chat = client.post("/v1/chat/completions", json=CHAT)
        assert chat.status_code == 504 and chat.json()["error"]["type"] == "server_error"


def test_a_write_without_the_key_is_refused_before_its_body_is_read(client: TestClient) -> None:
    """FastAPI parses a body before the route's key check: a 4 MB body of junk from anyone
    cost parsing time on the event loop. Now it is a 401 without being read."""
    junk = b"{" + b'"k": 1, ' * 500_000 + b"}"
    refused = client.post(
        "/v1/documents",
        content=junk,
        headers={"content-type": "application/json", "Authorization": "Bearer wrong"},
    )
    assert refused.status_code == 401, refused.text[:300]
    assert client.delete("/v1/documents/x").status_code == 401


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", ("", "")),
        ("localhost", ("", "")),
        ("::1", ("", "")),
        ("0.0.0.0", (DEFAULT_RATE_LIMIT_QUERIES, DEFAULT_RATE_LIMIT_AUTH_FAILURES)),
        ("10.1.2.3", (DEFAULT_RATE_LIMIT_QUERIES, DEFAULT_RATE_LIMIT_AUTH_FAILURES)),
        ("citeqa.example.org", (DEFAULT_RATE_LIMIT_QUERIES, DEFAULT_RATE_LIMIT_AUTH_FAILURES)),
    ],
)
def test_rate_limits_are_on_by_default_off_loopback(host: str, expected: tuple[str, str]) -> None:
    settings = Settings(_env_file=None, host=host)  # type: ignore[call-arg]
    assert settings.resolved_rate_limits() == expected


def test_an_operator_sets_or_turns_off_each_limit() -> None:
    public = Settings(  # type: ignore[call-arg]
        _env_file=None, host="0.0.0.0", rate_limit_queries="off", rate_limit_auth_failures="9/hour"
    )
    assert public.resolved_rate_limits() == ("", "9/hour")
    local = Settings(_env_file=None, rate_limit_queries=" 5/second ")  # type: ignore[call-arg]
    assert local.resolved_rate_limits() == ("5/second", "")
    with pytest.raises(ValueError, match="'off'"):
        Settings(_env_file=None, rate_limit_queries="lots")  # type: ignore[call-arg]


def test_each_worker_enforces_its_share_of_a_limit() -> None:
    from service.middleware import _limit

    alone = _limit("300/minute", "CITEQA_RATE_LIMIT_QUERIES", workers=1)
    shared = _limit("301/minute", "CITEQA_RATE_LIMIT_QUERIES", workers=2)
    assert alone is not None and shared is not None
    assert (alone.item.amount, shared.item.amount) == (300, 151)
    assert shared.item.get_expiry() == alone.item.get_expiry() == 60
    assert _limit("1/second", "X", workers=8) is not None
    assert _limit("", "X", workers=2) is None


def test_the_public_default_limits_a_client(
    tmp_path: Path, seed_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    """A server bound to every address, with no limit set, answers 429 past the default."""
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    public = settings.model_copy(
        update={"host": "0.0.0.0", "rate_limit_queries": None, "rate_limit_auth_failures": None}
    )
    with _client(index_dir, public, processor) as client:
        statuses = [
            client.delete("/v1/documents/x", headers=_bearer("wrong")).status_code
            for _ in range(31)
        ]
    assert statuses == [401] * 30 + [429]
