"""The OpenAI-compatible chat API: TestClient through the real app, and the official
`openai` client against the app served by uvicorn (`live_server_url`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from openai import OpenAI

from service.chat.completions import split_content
from service.chat.conversation import build_chat_query, resolve_follow_up
from service.chat.errors import ChatRequestError
from service.errors import NotReadyError
from service.render import NO_ANSWER

EXTRADITION = "How many people has Mexico extradited?"
UNANSWERABLE = "Who won the 2022 World Cup?"
ANSWER_DOC = "002_b8ec4b7f77a3a021"


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _chat(client: TestClient, *messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/chat/completions", json={"messages": list(messages), **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _content(body: dict[str, Any]) -> str:
    text: str = body["choices"][0]["message"]["content"]
    return text


def _document_text(client: TestClient, doc_id: str) -> str:
    response = client.get(f"/v1/documents/{doc_id}")
    assert response.status_code == 200, response.text
    text: str = response.json()["text"]
    return text


def _events(stream_text: str) -> list[str]:
    """The data of each server-sent event, after checking the framing."""
    assert stream_text.endswith("\n\n")
    events = stream_text.split("\n\n")[:-1]
    assert all(event.startswith("data: ") for event in events)
    return [event.removeprefix("data: ") for event in events]


# --- follow-up resolution -------------------------------------------------------------


def test_follow_up_retrieves_with_the_previous_questions_terms() -> None:
    query = build_chat_query([EXTRADITION, "and in February?"])
    assert query.question == "and in February?"
    assert query.retrieval_query.startswith("and in February?")
    added = query.retrieval_query.removeprefix("and in February?").split()
    assert {"people", "Mexico", "extradited"} <= set(added)
    # Question words and auxiliaries ask rather than name: they are not carried over.
    assert not {"How", "many", "has"} & set(added)


def test_follow_up_adds_only_terms_the_question_lacks() -> None:
    query = resolve_follow_up("What did Mexico say?", ["Why did Mexico extradite cartel bosses?"])
    assert query.split().count("Mexico") == 1
    assert "extradite" in query and "bosses" in query
    # The same word in another form is already there: "extradited" covers "extradite".
    assert resolve_follow_up("Who was extradited?", ["Mexico will extradite"]) == (
        "Who was extradited? Mexico"
    )


def test_follow_up_looks_back_two_user_turns_newest_first() -> None:
    previous = [
        "Tell me about tariffs on steel",
        "How many people has Mexico extradited?",
        "And in May?",
    ]
    query = resolve_follow_up("And in June?", previous)
    assert "tariffs" not in query
    assert query.index("May") < query.index("Mexico")


def test_first_question_is_its_own_retrieval_query() -> None:
    query = build_chat_query(["  " + EXTRADITION + "\n"])
    assert query.question == EXTRADITION
    assert query.retrieval_query == EXTRADITION


@pytest.mark.parametrize(
    ("messages", "match"),
    [([], "no user message"), ([EXTRADITION, " \n"], "empty"), (["x" * 1001], "1001 characters")],
)
def test_unanswerable_conversations_are_rejected(messages: list[str], match: str) -> None:
    with pytest.raises(ChatRequestError, match=match):
        build_chat_query(messages)


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=300), st.integers(1, 60))
def test_streamed_pieces_join_back_to_the_content(text: str, size: int) -> None:
    pieces = split_content(text, size)
    assert "".join(pieces) == text
    assert all(pieces)


# --- the API through TestClient -------------------------------------------------------


def test_models_lists_citeqa(client: TestClient) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["citeqa"]
    model = body["data"][0]
    assert model["object"] == "model"
    assert model["owned_by"] == "citeqa"
    assert isinstance(model["created"], int)


def test_reply_reads_on_its_own_and_cites_checkable_offsets(client: TestClient) -> None:
    body = _chat(client, _user(EXTRADITION), model="citeqa", temperature=0.3, max_tokens=50)
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["model"] == "citeqa"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    content = _content(body)
    assert content.startswith("92 to date")
    assert "To date, Mexico has extradited 92" in content
    assert "\n- [1] Mexico president defends extradition of 37 cartel leaders" in content
    assert f"({ANSWER_DOC})" in content

    citations = body["citations"]
    assert citations["answer"]["text"] == "92"
    assert citations["retrieval_query"] == EXTRADITION
    # 92 to date, 29 in February, 37 in one flight: other scopes, not a dispute.
    assert citations["sources_disagree"] is False
    for answer in [citations["answer"], *citations["alternatives"]]:
        citation = answer["citation"]
        text = _document_text(client, citation["doc_id"])
        assert text[citation["char_start"] : citation["char_end"]] == answer["text"]
        assert text[citation["sentence_start"] : citation["sentence_end"]] == citation["sentence"]
        assert answer["text"] in content
    assert citations["passages"]
    for passage in citations["passages"]:
        text = _document_text(client, passage["doc_id"])
        assert text[passage["char_start"] : passage["char_end"]] == passage["text"]


def test_citations_are_the_query_response(client: TestClient) -> None:
    citations = _chat(client, _user(EXTRADITION))["citations"]
    response = client.post("/v1/query", json={"question": EXTRADITION})
    expected = response.json()
    for body in (citations, expected):
        body.pop("timings_ms")
    assert citations.pop("retrieval_query") == EXTRADITION
    assert citations == expected


def test_text_parts_are_read_and_other_parts_ignored(client: TestClient) -> None:
    content = [
        {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
        {"type": "text", "text": EXTRADITION},
    ]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": content},
    ]
    body = _chat(client, *messages, model="gpt-4o")
    assert body["citations"]["question"] == EXTRADITION
    assert body["citations"]["answer"]["text"] == "92"


def test_unanswerable_question_says_so(client: TestClient) -> None:
    body = _chat(client, _user(UNANSWERABLE))
    content = _content(body)
    assert content.startswith(NO_ANSWER)
    assert "Closest passages:" in content
    assert body["citations"]["answer"] is None
    assert body["citations"]["passages"]


def test_follow_up_is_answered_from_the_conversation(client: TestClient) -> None:
    body = _chat(
        client,
        _user(EXTRADITION),
        {"role": "assistant", "content": "92 [1]"},
        _user("and in February?"),
    )
    assert "Mexico" in body["citations"]["retrieval_query"]
    assert body["citations"]["question"] == "and in February?"
    answer = body["citations"]["answer"]
    assert answer["text"] == "29"  # the follow-up is read after the question it follows
    assert "February" in answer["citation"]["sentence"]


def test_stream_sends_role_content_then_citations(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", json={"messages": [_user(EXTRADITION)], "stream": True}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = [chunk["choices"][0]["delta"].get("content", "") for chunk in chunks]
    assert len(pieces) > 4
    assert "".join(pieces) == _content(_chat(client, _user(EXTRADITION)))
    *middle, last = chunks
    assert all("citations" not in chunk for chunk in middle)
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in middle)
    assert last["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }
    assert last["citations"]["answer"]["text"] == "92"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ('{"messages": [', None, "invalid_json"),
        ("", None, "invalid_json"),
        ("[]", None, "invalid_value"),
        ('{"messages": "How many?"}', "messages", "invalid_value"),
        ('{"model": "citeqa"}', "messages", "invalid_value"),
        ('{"messages": [{"content": "hi"}]}', "messages[0].role", "invalid_value"),
        ('{"messages": [{"role": "user", "content": 5}]}', "messages[0].content", "invalid_value"),
        ('{"messages": []}', "messages", "missing_user_message"),
        ('{"messages": [{"role": "system", "content": "hi"}]}', "messages", "missing_user_message"),
        ('{"messages": [{"role": "user", "content": " \\n "}]}', "messages", "empty_question"),
        (json.dumps({"messages": [_user("x" * 1001)]}), "messages", "question_too_long"),
        (
            json.dumps({"messages": [_user("hi")], "stream_options": {"include_usage": True}}),
            None,
            "invalid_value",
        ),
        (
            json.dumps({"messages": [_user("hi")], "stream": True, "stream_options": "yes"}),
            "stream_options",
            "invalid_value",
        ),
    ],
)
def test_bad_requests_get_openai_errors(
    client: TestClient, body: str, param: str | None, code: str
) -> None:
    response = client.post(
        "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert (error["param"], error["code"]) == (param, code)


def test_query_errors_keep_their_own_shape(client: TestClient) -> None:
    response = client.post("/v1/query", json={"question": " "})
    assert response.status_code == 422
    assert "detail" in response.json()


# --- the official openai client against uvicorn ----------------------------------------


@pytest.fixture(scope="module")
def openai_client(live_server_url: str) -> OpenAI:
    return OpenAI(base_url=f"{live_server_url}/v1", api_key="unused", max_retries=0, timeout=60)


def test_openai_client_lists_the_model(openai_client: OpenAI) -> None:
    assert [model.id for model in openai_client.models.list()] == ["citeqa"]


def test_openai_client_completion(openai_client: OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": EXTRADITION}]
    )
    content = completion.choices[0].message.content or ""
    assert "92" in content and "[1]" in content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model_extra is not None
    citations = completion.model_extra["citations"]
    assert citations["answer"]["text"] == "92"
    assert citations["answer"]["citation"]["doc_id"] == ANSWER_DOC


def test_openai_client_stream(openai_client: OpenAI) -> None:
    stream = openai_client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": EXTRADITION}], stream=True
    )
    chunks = list(stream)
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "92" in content and "[1]" in content
    assert chunks[0].choices[0].delta.role == "assistant"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra is not None
    assert last.model_extra["citations"]["answer"]["text"] == "92"
    assert all(not (chunk.model_extra or {}).get("citations") for chunk in chunks[:-1])
    assert all(chunk.usage is None for chunk in chunks)  # not asked for


def test_openai_client_retrieves_the_model(openai_client: OpenAI) -> None:
    import openai

    model = openai_client.models.retrieve("citeqa")
    assert (model.id, model.object, model.owned_by) == ("citeqa", "model", "citeqa")
    with pytest.raises(openai.NotFoundError, match="does not exist") as caught:
        openai_client.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


def test_openai_client_reply_names_the_requested_model(openai_client: OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": EXTRADITION}]
    )
    assert completion.model == "gpt-4o-mini"


def test_openai_client_stream_includes_usage_when_asked(openai_client: OpenAI) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": EXTRADITION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    *content_chunks, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == len(EXTRADITION.split())
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    content = "".join(chunk.choices[0].delta.content or "" for chunk in content_chunks)
    assert last.usage.completion_tokens == len(content.split())
    assert content_chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in content_chunks)
    assert {chunk.model for chunk in chunks} == {"gpt-4o-mini"}


def test_openai_client_error(openai_client: OpenAI) -> None:
    import openai

    with pytest.raises(openai.BadRequestError, match="empty or only whitespace") as caught:
        openai_client.chat.completions.create(
            model="citeqa", messages=[{"role": "user", "content": "   "}]
        )
    assert caught.value.code == "empty_question"
    assert caught.value.param == "messages"


def test_openai_client_shows_the_message_of_a_body_over_the_limit(openai_client: OpenAI) -> None:
    import openai

    with pytest.raises(openai.APIStatusError, match="CITEQA_MAX_BODY_BYTES") as caught:
        openai_client.chat.completions.create(
            model="citeqa", messages=[{"role": "user", "content": "x" * 6_000_000}]
        )
    assert caught.value.status_code == 413
    assert caught.value.type == "invalid_request_error"


def test_openai_client_shows_the_message_of_a_service_error(
    openai_client: OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    from service.api.routes import chat

    def not_ready(*_args: object) -> None:
        raise NotReadyError("no index loaded from data/index; build one with citeqa index build")

    monkeypatch.setattr(chat, "_answer", not_ready)  # the server runs in this process
    with pytest.raises(openai.InternalServerError, match="build one with citeqa") as caught:
        openai_client.chat.completions.create(
            model="citeqa", messages=[{"role": "user", "content": EXTRADITION}]
        )
    assert caught.value.status_code == 503
    assert caught.value.type == "server_error"


def test_openai_client_multi_turn(openai_client: OpenAI) -> None:
    first = "How many people did Mexico extradite in February?"
    opening = openai_client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": first}]
    )
    reply = opening.choices[0].message.content or ""
    assert "29" in reply
    follow_up = openai_client.chat.completions.create(
        model="citeqa",
        messages=[
            {"role": "user", "content": first},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": "and in the latest flight?"},
        ],
    )
    assert follow_up.model_extra is not None
    citations = follow_up.model_extra["citations"]
    assert citations["question"] == "and in the latest flight?"
    # The follow-up retrieves with the first question's terms. The engine does not yet
    # answer 37 here (nor for the self-contained question): the answer type comes from
    # "and in the latest flight?" alone, which asks for a sentence.
    assert {"Mexico", "extradite", "February"} <= set(citations["retrieval_query"].split())
    assert citations["passages"]
