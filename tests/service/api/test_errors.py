"""Bad input gets a clear 4xx with a message; nothing produces a 500."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citeqa.errors import CiteqaError, RayClusterError
from eval.errors import DatasetError
from indexer.errors import (
    BadFileError,
    DocumentNotFoundError,
    ExportError,
    IndexCorruptError,
    IndexDiskFullError,
    IndexerError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidDocumentIdError,
    QueryEncoderError,
    RayBuildError,
    SpacyModelMissingError,
)
from service.api.errors import http_status, install_error_handlers
from service.chat.errors import ConversationTooLargeError, ModelNotFoundError
from service.errors import (
    DocumentRejectedError,
    InvalidQuestionError,
    NotReadyError,
    PayloadTooLargeError,
    ShardGenerationError,
    ShardUnavailableError,
    UnauthorizedError,
)
from service.reading.errors import ReaderError
from tests.conftest import API_KEY


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": ""}, 422, "question"),
        ({"question": "   \t\n"}, 422, "empty or only whitespace"),
        ({"question": "x" * 1001}, 422, "at most 1000 characters"),
        ({"question": "ok?", "top_k": 0}, 422, "top_k"),
        ({"question": "ok?", "top_k": 51}, 422, "top_k"),
        ({"question": "ok?", "filters": {"author": "x"}}, 422, "filters.author"),
        ({"question": "ok?", "filters": {"published_from": "yesterday"}}, 422, "published_from"),
        ({"question": "ok?", "colour": "red"}, 422, "colour"),
        ({}, 422, "question"),
    ],
)
def test_bad_queries_are_rejected(
    client: TestClient, body: dict[str, object], status: int, message: str
) -> None:
    response = client.post("/v1/query", json=body)
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_malformed_json_is_rejected(client: TestClient) -> None:
    response = client.post(
        "/v1/query", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_malformed_json_says_where_it_broke(client: TestClient) -> None:
    body = b'{\n  "question": "How many?",\n  "top_k": 5,\n}'  # a trailing comma
    response = client.post("/v1/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("body is not valid JSON: ")
    assert "at line 4, column 1" in detail, detail


def test_unknown_document_is_404(client: TestClient) -> None:
    response = client.get("/v1/documents/not-a-document")
    assert response.status_code == 404
    assert "GET /v1/documents" in response.json()["detail"]


@pytest.mark.parametrize("doc_id", ["..%2F..%2Fetc%2Fpasswd", "a%00b", ".hidden", "a..b"])
def test_document_ids_outside_the_pattern_are_rejected(client: TestClient, doc_id: str) -> None:
    response = client.get(f"/v1/documents/{doc_id}")
    assert response.status_code in (404, 422)
    assert response.status_code != 200


def test_writes_need_the_api_key(client: TestClient) -> None:
    document = {"doc_id": "new-doc", "text": "Some text about a port."}
    assert client.post("/v1/documents", json=document).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert client.post("/v1/documents", json=document, headers=wrong).status_code == 401
    assert client.delete("/v1/documents/002_b8ec4b7f77a3a021").status_code == 401


def test_oversized_body_is_413(client: TestClient, api_key: str) -> None:
    body = b'{"doc_id": "big", "text": "' + b"a" * 6_000_000 + b'"}'
    response = client.post(
        "/v1/documents",
        content=body,
        headers={"Authorization": f"Bearer {api_key}", "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "CITEQA_MAX_BODY_BYTES" in response.json()["detail"]


def test_bad_document_bodies_are_rejected(client: TestClient, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    for body, message in [
        ({"doc_id": "../x", "text": "t"}, "doc_id"),
        ({"doc_id": "ok", "text": "   "}, "text is empty"),
        ({"doc_id": "ok"}, "text"),
        ({"doc_id": "ok", "text": "t", "published": "not a date"}, "published"),
        ({"doc_id": "ok", "text": "t", "published": "2025-02-30"}, "not a day"),
        ({"doc_id": "ok", "text": "t", "title": "t" * 1001}, "over 1000 characters"),
        ({"doc_id": "ok", "text": "t", "url": "u" * 2001}, "over 2000 characters"),
        ({"doc_id": "-x", "text": "t"}, "letters, digits"),
    ]:
        response = client.post("/v1/documents", json=body, headers=headers)
        assert response.status_code == 422, body
        assert message in response.json()["detail"]
    assert client.delete("/v1/documents/unknown-id", headers=headers).status_code == 404


def test_the_api_indexes_a_termless_document(writable_client: TestClient) -> None:
    response = writable_client.post(
        "/v1/documents",
        json={"doc_id": "it-is", "text": "It is."},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "added"


def _app_raising(error: Exception) -> TestClient:
    """A bare app whose only routes raise ``error``, with the service's error handlers."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/v1/fails")
    @app.get("/v1/chat/fails")
    def fails() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_a_stray_value_error_is_a_server_error_not_bad_input() -> None:
    response = _app_raising(ValueError("max() arg is an empty sequence")).get("/v1/fails")
    assert response.status_code == 500
    assert "max()" not in response.text  # a bug's details stay in the server log


# The statuses the API answered before the statuses moved into one table.
@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        (IndexerError, 400),
        (BadFileError, 400),
        (UnauthorizedError, 401),
        (DocumentNotFoundError, 404),
        (ModelNotFoundError, 404),
        (PayloadTooLargeError, 413),
        (ConversationTooLargeError, 413),
        (InvalidDocumentIdError, 422),
        (DocumentRejectedError, 422),
        (InvalidQuestionError, 422),
        (NotReadyError, 503),
        (IndexNotFoundError, 503),
        (IndexMismatchError, 503),
        (IndexCorruptError, 503),
        (IndexLockedError, 503),
        (SpacyModelMissingError, 503),
        (IndexDiskFullError, 507),
        (ReaderError, 500),
        (DatasetError, 500),
        (ExportError, 500),
        (QueryEncoderError, 500),
        (RayBuildError, 500),
        (RayClusterError, 503),
        (ShardUnavailableError, 503),
        (ShardGenerationError, 503),
    ],
)
def test_each_domain_error_answers_with_its_own_status(
    error_type: type[CiteqaError], status: int
) -> None:
    response = _app_raising(error_type("what went wrong; what to do")).get("/v1/fails")
    assert response.status_code == http_status(error_type("x")) == status
    assert response.json() == {"detail": "what went wrong; what to do"}


def _subclasses(cls: type[CiteqaError]) -> list[type[CiteqaError]]:
    return [sub for child in cls.__subclasses__() for sub in (child, *_subclasses(child))]


def test_every_domain_error_is_a_citeqa_error_without_a_status_of_its_own() -> None:
    import eval.errors
    import indexer.errors
    import service.chat.errors
    import service.errors
    import service.reading.errors

    modules = (eval.errors, indexer.errors, service.chat.errors, service.errors)
    declared = [
        value
        for module in (*modules, service.reading.errors)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == module.__name__
    ]
    domain = [error for error in declared if issubclass(error, CiteqaError)]
    assert domain and domain == declared
    assert set(domain) <= set(_subclasses(CiteqaError))
    assert all(400 <= http_status(error("x")) <= 599 for error in domain)
    # The table at the HTTP edge is the only place a status is written.
    assert not [error for error in domain if "status" in vars(error)]


def test_a_401_asks_for_a_bearer_token() -> None:
    response = _app_raising(UnauthorizedError("missing or wrong API key")).get("/v1/fails")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": "ok?", "top_k": True}, "top_k"),
        ({"question": "ok?", "top_k": "5"}, "top_k"),
        ({"question": "ok?", "top_k": 5.5}, "top_k"),
        ({"question": "ok?", "filters": {"published_to": 0}}, "published_to"),
        ({"question": "ok?", "filters": {"published_to": "0"}}, "published_to"),
        ({"question": "ok?", "filters": {"published_from": "1700000000"}}, "published_from"),
        (
            {
                "question": "ok?",
                "filters": {"published_from": "2025-06-01", "published_to": "2025-01-01"},
            },
            "published_from (2025-06-01) is after published_to",
        ),
    ],
)
def test_strict_types_and_ranges(client: TestClient, body: dict[str, object], message: str) -> None:
    response = client.post("/v1/query", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_a_date_range_in_order_is_accepted(client: TestClient) -> None:
    filters = {"published_from": "2025-01-01", "published_to": "2025-12-31", "sources": ["x"]}
    response = client.post("/v1/query", json={"question": "How many?", "filters": filters})
    assert response.status_code == 200, response.text


def test_malformed_json_has_the_status_of_bad_utf8(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    not_json = client.post("/v1/query", content=b"{not json", headers=headers)
    not_utf8 = client.post("/v1/query", content=b'{"question": "\xe9"}', headers=headers)
    assert not_json.status_code == not_utf8.status_code == 400


def test_a_doc_id_with_a_parent_step_is_rejected_as_the_cli_does(client: TestClient) -> None:
    response = client.post(
        "/v1/documents",
        json={"doc_id": "a..b", "text": "Some text."},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 422
    assert "'..'" in response.json()["detail"]


def test_head_healthz(client: TestClient) -> None:
    assert client.head("/healthz").status_code == 200


def test_chat_stream_must_be_a_boolean(client: TestClient) -> None:
    body = {"messages": [{"role": "user", "content": "How many?"}], "stream": "yes"}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream"


@pytest.mark.parametrize(
    ("error", "status", "kind", "code", "message"),
    [
        (NotReadyError("no index loaded"), 503, "server_error", None, "no index loaded"),
        (
            ModelNotFoundError("no model 'x'"),
            404,
            "invalid_request_error",
            "model_not_found",
            "no model 'x'",
        ),
        # OpenAI has no 422: an invalid request is a 400.
        (
            InvalidQuestionError("question is empty"),
            400,
            "invalid_request_error",
            None,
            "question is empty",
        ),
        # A bug: no details, but a message OpenAI clients can show.
        (ValueError("a bug"), 500, "server_error", None, "the server log has the details"),
    ],
)
def test_errors_on_the_chat_paths_take_openai_shape(
    error: Exception, status: int, kind: str, code: str | None, message: str
) -> None:
    response = _app_raising(error).get("/v1/chat/fails")
    assert response.status_code == status
    body = response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert (body["type"], body["code"]) == (kind, code)
    assert message in body["message"]
