"""The eval reads a running service's answers through the service's own response model."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from eval.errors import EvalError
from eval.predictions import RemoteAnswerer

QUESTION = "How many people has Mexico extradited?"


def _answerer(transport: httpx.BaseTransport) -> RemoteAnswerer:
    answerer = RemoteAnswerer("http://citeqa.test")
    answerer.client = httpx.Client(base_url="http://citeqa.test", transport=transport)
    return answerer


def test_remote_answers_keep_every_field_the_service_sent(client: TestClient) -> None:
    def to_the_app(request: httpx.Request) -> httpx.Response:
        answer = client.post(request.url.path, content=request.content, headers=request.headers)
        return httpx.Response(answer.status_code, content=answer.content)

    sent = client.post("/v1/query", json={"question": QUESTION, "top_k": 5}).json()
    read = _answerer(httpx.MockTransport(to_the_app)).predict(QUESTION, 5).model_dump(mode="json")
    assert sent["passages"], "the seed index should retrieve passages for this question"
    # Timings are measured anew for each request; every other field must come back as sent.
    assert {**read, "timings_ms": {}} == {**sent, "timings_ms": {}}


def test_a_response_of_another_shape_is_refused_by_name() -> None:
    def reply(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"question": "q", "answer": {"text": "Paris"}})

    with pytest.raises(EvalError, match="another shape than this citeqa's /v1/query"):
        _answerer(httpx.MockTransport(reply)).predict("q", 5)


def test_an_error_status_is_reported_with_the_service_message() -> None:
    def reply(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"detail": "no index is loaded"})

    with pytest.raises(EvalError, match=r"503 from the service: .*no index is loaded"):
        _answerer(httpx.MockTransport(reply)).predict("q", 5)
