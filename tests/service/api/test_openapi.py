"""The OpenAPI schema says what the service really answers: error shapes, statuses, bodies,
and the methods of each path."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from service.api.errors import speaks_openai
from tests.conftest import API_KEY

# Every error status each operation can answer (besides 200).
ERROR_STATUSES = {
    ("post", "/v1/query"): {400, 401, 413, 415, 422, 429, 503, 504},
    ("get", "/v1/documents"): {401, 422, 503},
    ("post", "/v1/documents"): {400, 401, 413, 415, 422, 503, 507},
    ("get", "/v1/documents/{doc_id}"): {401, 404, 422, 503},
    ("delete", "/v1/documents/{doc_id}"): {401, 404, 422, 503, 507},
    ("post", "/v1/chat/completions"): {400, 401, 413, 415, 429, 503, 504},
    ("get", "/readyz"): {503},
    ("get", "/v1/models/{model_id}"): {404, 422},
}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _declared(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = spec["paths"][path][method]["responses"]
    return responses


@pytest.mark.parametrize(("method", "path"), sorted(ERROR_STATUSES))
def test_error_statuses_are_declared(spec: dict[str, Any], method: str, path: str) -> None:
    declared = {int(status) for status in _declared(spec, method, path)} - {200}
    assert declared == ERROR_STATUSES[(method, path)]


def test_validation_errors_are_declared_as_the_string_the_service_sends(
    spec: dict[str, Any], client: TestClient
) -> None:
    assert "HTTPValidationError" not in json.dumps(spec["paths"])
    for path, operations in spec["paths"].items():
        # The OpenAI-compatible paths answer every error in OpenAI's shape.
        shape = "OpenAIErrorResponse" if speaks_openai(path) else "ErrorResponse"
        for method, operation in operations.items():
            if "422" in operation["responses"]:
                schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{shape}"}, (method, path)
    detail = spec["components"]["schemas"]["ErrorResponse"]["properties"]["detail"]
    assert detail["type"] == "string"
    response = client.post("/v1/query", json={"question": "ok?", "top_k": 0})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)


def test_errors_sent_are_errors_declared(spec: dict[str, Any], client: TestClient) -> None:
    key = {"Authorization": f"Bearer {API_KEY}"}
    sent = [
        ("post", "/v1/query", client.post("/v1/query", content=b"{not json")),
        ("post", "/v1/query", client.post("/v1/query", json={"question": ""})),
        ("post", "/v1/documents", client.post("/v1/documents", json={"doc_id": "x"})),
        ("post", "/v1/documents", client.post("/v1/documents", json={}, headers=key)),
        (
            "post",
            "/v1/documents",
            client.post("/v1/documents", content=b"x" * 6_000_000, headers=key),
        ),
        ("get", "/v1/documents/{doc_id}", client.get("/v1/documents/missing")),
        ("delete", "/v1/documents/{doc_id}", client.delete("/v1/documents/missing", headers=key)),
        ("delete", "/v1/documents/{doc_id}", client.delete("/v1/documents/missing")),
    ]
    for method, path, response in sent:
        assert str(response.status_code) in _declared(spec, method, path), (path, response)
        assert isinstance(response.json()["detail"], str)


def test_chat_request_body_is_described(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert schema == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    request = spec["components"]["schemas"]["ChatCompletionRequest"]
    assert "messages" in request["required"]
    assert {"model", "messages", "stream"} <= set(request["properties"])


def test_every_reference_resolves_and_operation_ids_are_unique(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    for ref in _refs(spec):
        assert ref.removeprefix("#/components/schemas/") in components, ref
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/documents", "GET, POST, OPTIONS"),
        ("/v1/documents/002_b8ec4b7f77a3a021", "GET, DELETE, OPTIONS"),
        ("/v1/query", "POST, OPTIONS"),
        ("/healthz", "GET, HEAD, OPTIONS"),
    ],
)
def test_allow_lists_every_method_of_the_path(client: TestClient, path: str, methods: str) -> None:
    refused = client.request("PATCH", path)
    assert refused.status_code == 405
    assert refused.headers["allow"] == methods
    options = client.options(path)
    assert options.status_code == 204
    assert options.headers["allow"] == methods


WRITES = {("post", "/v1/documents"), ("delete", "/v1/documents/{doc_id}")}


def test_writes_declare_the_bearer_key_and_reads_do_not(spec: dict[str, Any]) -> None:
    # The scheme is what gives /docs its "Authorize" button.
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": schemes["apiKey"]["description"],
        }
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            expected: list[dict[str, list[str]]] | None = (
                [{"apiKey": []}] if (method, path) in WRITES else None
            )
            assert operation.get("security") == expected, (method, path)


def test_every_operation_has_a_written_summary_and_an_example(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            summary = operation.get("summary", "")
            # FastAPI's generated summary is the function name in title case ("Put Document").
            generated = operation["operationId"].split("_", 1)[0].replace("_", " ").title()
            assert summary and summary != generated, (method, path, summary)
            if method != "head":
                assert '"example' in json.dumps(operation), (method, path)


def test_response_examples_are_valid_responses(spec: dict[str, Any]) -> None:
    from service.chat.schemas import ChatCompletion, ModelCard, ModelList
    from service.schemas import (
        DocumentPublic,
        DocumentsPublic,
        DocumentWriteResult,
        QueryResponse,
        Readiness,
    )

    models: dict[tuple[str, str], type[BaseModel]] = {
        ("post", "/v1/query"): QueryResponse,
        ("get", "/v1/documents"): DocumentsPublic,
        ("get", "/v1/documents/{doc_id}"): DocumentPublic,
        ("post", "/v1/documents"): DocumentWriteResult,
        ("delete", "/v1/documents/{doc_id}"): DocumentWriteResult,
        ("get", "/readyz"): Readiness,
        ("get", "/v1/models"): ModelList,
        ("get", "/v1/models/{model_id}"): ModelCard,
        ("post", "/v1/chat/completions"): ChatCompletion,
    }
    for (method, path), model in models.items():
        media = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        model.model_validate(media["example"])


def test_request_examples_are_accepted(spec: dict[str, Any]) -> None:
    from service.chat.schemas import ChatCompletionRequest
    from service.schemas import DocumentCreate, QueryRequest

    def request_example(method: str, path: str) -> Any:
        media = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
        return media["example"] if "example" in media else media["examples"]["example"]["value"]

    QueryRequest.model_validate(request_example("post", "/v1/query"))
    DocumentCreate.model_validate(request_example("post", "/v1/documents"))
    ChatCompletionRequest.model_validate(request_example("post", "/v1/chat/completions"))


def test_docs_pages_load_nothing_from_another_host(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "http://" not in html and "https://" not in html, page
        for asset in re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', html):
            assert client.get(asset).status_code == 200, asset
