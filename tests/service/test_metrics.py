"""/metrics carries citeqa's own series after queries and writes, read as Prometheus reads them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

ANSWERED = "How many people has Mexico extradited?"
# Far from anything in seeds/: abstained on by the current thresholds (whether it is, is
# the abstention code's business; the counts below follow what the responses say).
UNANSWERABLE = "What is the boiling point of liquid nitrogen on Neptune?"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def outcome(result: dict[str, Any]) -> str:
    if result["answer"] is None:
        return "abstained"
    return "disagreement" if result["sources_disagree"] else "answered"


def test_queries_and_a_write_show_in_the_domain_series(
    writable_client: TestClient, api_key: str
) -> None:
    client = writable_client
    before = scrape(client)
    assert value(before, "citeqa_index_documents") == 5
    assert value(before, "citeqa_index_chunks") > 0
    assert value(before, "citeqa_index_segments") >= 1
    generation = value(before, "citeqa_index_generation")
    assert value(before, "citeqa_queries_total", outcome="answered") == 0

    answered = client.post("/v1/query", json={"question": ANSWERED}).json()
    abstained = client.post("/v1/query", json={"question": UNANSWERABLE}).json()
    assert answered["answer"] is not None
    chat = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": ANSWERED}]}
    )
    assert chat.status_code == 200
    # Whether sources disagree is the aggregator's call: count what the responses said.
    results = [answered, abstained, chat.json()["citations"]]
    expected = Counter(outcome(result) for result in results)

    headers = {"Authorization": f"Bearer {api_key}"}
    added = client.post(
        "/v1/documents",
        json={"doc_id": "metrics-test", "text": "Port workers in Veracruz went on strike."},
        headers=headers,
    )
    assert added.status_code == 200
    missing = client.delete("/v1/documents/no-such-document", headers=headers)
    assert missing.status_code == 404

    after = scrape(client)
    for name in ("answered", "disagreement", "abstained"):
        assert value(after, "citeqa_queries_total", outcome=name) == expected[name], name
    for stage in ("embed", "retrieve", "read", "aggregate"):
        assert value(after, "citeqa_query_stage_duration_seconds_count", stage=stage) == 3
        assert value(after, "citeqa_query_stage_duration_seconds_sum", stage=stage) > 0
    assert value(after, "citeqa_query_duration_seconds_count") == 3
    # One confidence per answer given, each in a bucket at or below 1.
    confidences = [result["answer"]["confidence"] for result in results if result["answer"]]
    assert value(after, "citeqa_answer_confidence_count") == len(confidences) >= 1
    assert value(after, "citeqa_answer_confidence_bucket", le="1.0") == len(confidences)
    assert value(after, "citeqa_answer_confidence_sum") == pytest.approx(sum(confidences))

    assert value(after, "citeqa_index_writes_total", operation="add", result="added") == 1
    assert value(after, "citeqa_index_writes_total", operation="delete", result="rejected") == 1
    assert value(after, "citeqa_index_write_duration_seconds_count", operation="add") == 1
    assert value(after, "citeqa_index_generation") == generation + 1
    assert value(after, "citeqa_index_documents") == 6


def test_http_and_process_series_are_still_there(client: TestClient) -> None:
    client.get("/healthz")
    names = {name for name, _ in scrape(client)}
    assert "http_requests_total" in names
    assert "process_resident_memory_bytes" in names
