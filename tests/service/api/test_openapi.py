"""The OpenAPI schema says what the service really answers: error shapes, statuses, bodies,
and the methods of each path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.errors import speaks_openai
from tests.conftest import API_KEY

# Every error status each operation can answer (besides 200).
ERROR_STATUSES = {
    ("post", "/v1/query"): {400, 401, 413, 415, 422, 429, 503, 504},
    ("get", "/v1/documents"): {401, 503},
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
