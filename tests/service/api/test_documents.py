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


PAGE = """<html><head>
<title>Port of Veracruz sets cargo record | Port News</title>
<meta property="og:site_name" content="Port News">
<meta property="article:published_time" content="2025-02-03T08:00:00Z">
<link rel="canonical" href="https://portnews.example/veracruz-record">
</head><body><nav><a href="/">Home</a> | <a href="/ports">Ports</a></nav>
<article><h1>Port of Veracruz sets cargo record</h1>
<p>The port of Veracruz handled 1.4 million containers in 2024, a record, the port
authority said on Monday.</p><p>Officials credited a new rail link to Mexico City.</p>
</article><footer>Subscribe to Port News</footer></body></html>"""


def test_a_web_page_is_indexed_with_the_citation_its_markup_gives(
    writable_client: TestClient, api_key: str
) -> None:
    client = writable_client
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"doc_id": "veracruz-page", "html": PAGE, "title": "Veracruz record"}
    created = client.post("/v1/documents", json=body, headers=headers)
    assert created.status_code == 200, created.text
    try:
        document = client.get("/v1/documents/veracruz-page").json()
        # The body's own field wins; the page's markup gives the others.
        assert document["title"] == "Veracruz record"
        assert (document["source"], document["published"]) == ("Port News", "2025-02-03")
        assert document["url"] == "https://portnews.example/veracruz-record"
        assert "1.4 million containers" in document["text"]
        assert "<p>" not in document["text"] and "Subscribe" not in document["text"]
        answer = client.post("/v1/query", json={"question": QUESTION}).json()["answer"]
        assert answer["citation"]["doc_id"] == "veracruz-page"
        assert "1.4 million" in answer["text"]
    finally:
        client.delete("/v1/documents/veracruz-page", headers=headers)


def test_an_article_line_of_a_jsonl_file_can_be_posted_as_it_is(
    writable_client: TestClient, api_key: str
) -> None:
    """Files name a document's id ``id``; the API reads it as ``doc_id``."""
    headers = {"Authorization": f"Bearer {api_key}"}
    line = {"id": "veracruz-line", "title": "Port record", "text": ARTICLE}
    try:
        created = writable_client.post("/v1/documents", json=line, headers=headers)
        assert created.status_code == 200, created.text
        assert created.json()["doc_id"] == "veracruz-line" and created.json()["status"] == "added"
        assert writable_client.get("/v1/documents/veracruz-line").status_code == 200
    finally:
        writable_client.delete("/v1/documents/veracruz-line", headers=headers)


def test_text_or_html_one_of_them(writable_client: TestClient, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    for body, says in [
        ({"doc_id": "both", "text": "Some text.", "html": PAGE}, "not both"),
        ({"doc_id": "neither", "title": "No article"}, "not neither"),
    ]:
        response = writable_client.post("/v1/documents", json=body, headers=headers)
        assert response.status_code == 422 and says in response.text, response.text
    scripts_only = "<html><head><title>x</title></head><body><script>f();</script></body></html>"
    empty = {"doc_id": "empty-page", "html": scripts_only}
    response = writable_client.post("/v1/documents", json=empty, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "document not indexed: no article text found in this HTML page"
    )


def test_the_list_comes_a_page_at_a_time(client: TestClient) -> None:
    every = client.get("/v1/documents").json()
    ids = [d["doc_id"] for d in every["data"]]
    assert ids == sorted(ids) and every["has_more"] is False and every["last_id"] == ids[-1]

    seen: list[str] = []
    query = "?limit=2"
    while True:
        page = client.get(f"/v1/documents{query}").json()
        assert page["count"] == 5  # every document, whatever the page
        seen += [d["doc_id"] for d in page["data"]]
        if not page["has_more"]:
            break
        assert len(page["data"]) == 2
        query = f"?limit=2&after={page['last_id']}"
    assert seen == ids

    past_the_end = client.get(f"/v1/documents?after={ids[-1]}").json()
    assert (past_the_end["data"], past_the_end["has_more"], past_the_end["last_id"]) == (
        [],
        False,
        None,
    )
    for bad in ("limit=0", "limit=1001", "after=../x"):
        assert client.get(f"/v1/documents?{bad}").status_code == 422, bad
