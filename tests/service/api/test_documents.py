"""Documents through the API: list, read, add, query, delete."""

from __future__ import annotations

from fastapi.testclient import TestClient

ARTICLE = (
    "Port of Veracruz sets cargo record\n\n"
    "The port of Veracruz handled 1.4 million containers in 2024, a record, the port "
    "authority said on Monday. Officials credited a new rail link to Mexico City.\n"
)
QUESTION = "How many containers did the port of Veracruz handle in 2024?"


def test_list_and_read_documents(client: TestClient) -> None:
    listing = client.get("/v1/documents").json()
    assert listing["count"] == 5
    assert all(d["chunks"] > 0 for d in listing["data"])
    document = client.get("/v1/documents/001_4cfa9f9a02c2ccc3").json()
    assert document["source"] == "Reuters"
    assert document["text"].startswith("The US government is urging Mexico")


def test_add_query_delete_query(writable_client: TestClient, api_key: str) -> None:
    client = writable_client
    headers = {"Authorization": f"Bearer {api_key}"}
    before = client.post("/v1/query", json={"question": QUESTION}).json()
    assert before["answer"] is None or "1.4 million" not in before["answer"]["text"]

    created = client.post(
        "/v1/documents",
        json={
            "doc_id": "veracruz-port",
            "text": ARTICLE,
            "source": "Port News",
            "published": "2025-02-03",
        },
        headers=headers,
    )
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "added"
    assert created.json()["documents"] == 6

    again = client.post(
        "/v1/documents",
        json={
            "doc_id": "veracruz-port",
            "text": ARTICLE,
            "source": "Port News",
            "published": "2025-02-03",
        },
        headers=headers,
    )
    assert again.json()["status"] == "unchanged"

    after = client.post("/v1/query", json={"question": QUESTION}).json()
    assert after["answer"] is not None
    assert "1.4 million" in after["answer"]["text"]
    assert after["answer"]["citation"]["doc_id"] == "veracruz-port"
    assert after["answer"]["citation"]["source"] == "Port News"

    deleted = client.delete("/v1/documents/veracruz-port", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json()["documents"] == 5
    assert client.get("/v1/documents/veracruz-port").status_code == 404
    final = client.post("/v1/query", json={"question": QUESTION}).json()
    assert all(p["doc_id"] != "veracruz-port" for p in final["passages"])


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True and ready.json()["documents"] == 5
    client.post("/v1/query", json={"question": "Who is Sheinbaum?"})
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "http_requests_total" in metrics.text or "http_request_duration" in metrics.text
    assert client.get("/docs").status_code == 200
    response = client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"


def test_publication_date_is_quoted_from_the_byline(
    writable_client: TestClient, api_key: str
) -> None:
    client = writable_client
    article = (
        "Lagoon restoration finished in Yucatán\n\nPeninsula Daily, March 3, 2024\n\n"
        "Engineers finished restoring the mangrove lagoon near Progreso after two years of "
        "work, the state environment agency said.\n"
    )
    headers = {"Authorization": f"Bearer {api_key}"}
    created = client.post(
        "/v1/documents", json={"doc_id": "lagoon", "text": article}, headers=headers
    )
    assert created.status_code == 200, created.text
    document = client.get("/v1/documents/lagoon").json()
    assert (document["source"], document["published"]) == ("Peninsula Daily", "2024-03-03")
    body = client.post(
        "/v1/query", json={"question": "When was the article on the mangrove lagoon published?"}
    ).json()
    answer = body["answer"]
    assert answer is not None and answer["text"] == "March 3, 2024"
    citation = answer["citation"]
    assert document["text"][citation["char_start"] : citation["char_end"]] == "March 3, 2024"
