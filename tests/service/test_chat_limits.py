"""The chat endpoint caps a conversation, keeps its parsing off the event loop, and answers
every error in OpenAI's shape."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.routes import chat
from service.chat.conversation import MAX_CONVERSATION_CHARS, MAX_MESSAGES, build_chat_query
from service.errors import NotReadyError


def _post(client: TestClient, body: dict[str, Any] | bytes) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/v1/chat/completions", content=content, headers={"Content-Type": "application/json"}
    )


def _assert_openai_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert (error["type"], error["code"]) == ("invalid_request_error", code)


def test_too_many_turns_is_400(client: TestClient) -> None:
    turns = [{"role": "user", "content": f"question {n}?"} for n in range(MAX_MESSAGES + 1)]
    _assert_openai_error(_post(client, {"messages": turns}), 400, "too_many_messages")


def test_too_much_text_is_413(client: TestClient) -> None:
    earlier = {"role": "user", "content": "word " * (MAX_CONVERSATION_CHARS // 5 + 1)}
    body = {"messages": [earlier, {"role": "user", "content": "How many?"}]}
    _assert_openai_error(_post(client, body), 413, "context_length_exceeded")


def test_a_body_far_over_the_cap_is_refused_before_parsing(client: TestClient) -> None:
    body = b'{"messages": [{"role": "user", "content": "' + b"x" * 2_000_000 + b'"}]}'
    _assert_openai_error(_post(client, body), 413, "context_length_exceeded")


def test_a_conversation_at_the_cap_is_answered(client: TestClient) -> None:
    turns = [{"role": "user", "content": f"question {n}?"} for n in range(MAX_MESSAGES - 1)]
    turns.append({"role": "user", "content": "How many people has Mexico extradited?"})
    assert _post(client, {"messages": turns}).status_code == 200


def test_the_conversation_is_read_in_a_worker_thread(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[bool] = []

    def spy(user_messages: list[str]) -> Any:
        try:
            asyncio.get_running_loop()
            threads.append(False)  # on the event loop
        except RuntimeError:
            threads.append(True)
        return build_chat_query(user_messages)

    monkeypatch.setattr(chat, "build_chat_query", spy)
    body = {"messages": [{"role": "user", "content": "How many people has Mexico extradited?"}]}
    assert _post(client, body).status_code == 200
    assert threads == [True]


# --- every error on the chat paths is an OpenAI error object ---------------------------


def _openai_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_a_body_over_the_server_limit_is_an_openai_413(client: TestClient) -> None:
    body = b'{"messages": [{"role": "user", "content": "' + b"x" * 6_000_000 + b'"}]}'
    error = _openai_error(_post(client, body), 413)
    assert "CITEQA_MAX_BODY_BYTES" in error["message"]
    assert error["type"] == "invalid_request_error"


def test_a_wrong_method_is_an_openai_405(client: TestClient) -> None:
    response = client.get("/v1/chat/completions")
    assert _openai_error(response, 405)["message"] == "Method Not Allowed"
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_an_unknown_chat_path_is_an_openai_404(client: TestClient) -> None:
    _openai_error(client.post("/v1/chat/completion", json={}), 404)


def test_no_index_is_an_openai_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_ready(*_args: object) -> None:
        raise NotReadyError("no index loaded from data/index; build one")

    monkeypatch.setattr(chat, "_answer", not_ready)
    body = {"messages": [{"role": "user", "content": "How many people has Mexico extradited?"}]}
    error = _openai_error(_post(client, body), 503)
    assert (error["type"], error["message"]) == (
        "server_error",
        "no index loaded from data/index; build one",
    )
