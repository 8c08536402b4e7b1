"""A single paragraph over spaCy's limit (a million characters) is indexed, not a 500.

The audit's 1.1 MB paragraph failed with spaCy's E088 after 10.7 s. Here the paragraph is
a few sentences spread over 1.1 MB of spaces: the same length for spaCy, and few chunks to
embed, so the test takes seconds."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.conftest import API_KEY

LENGTH = 1_121_999


def test_a_paragraph_over_a_million_characters_is_indexed(writable_client: TestClient) -> None:
    sentences = [f"Berth {n} of the north pier reopened on Monday. " for n in range(40)]
    gap = " " * ((LENGTH - sum(map(len, sentences))) // len(sentences))
    text = "".join(s + gap for s in sentences).ljust(LENGTH, "x")
    assert len(text) == LENGTH and "\n" not in text
    headers = {"Authorization": f"Bearer {API_KEY}"}

    started = time.monotonic()
    added = writable_client.post(
        "/v1/documents", json={"doc_id": "long-paragraph", "text": text}, headers=headers
    )
    seconds = time.monotonic() - started
    assert added.status_code == 200, added.text[:500]
    assert added.json()["status"] == "added"
    stored = writable_client.get("/v1/documents/long-paragraph").json()
    assert stored["text"] == text
    print(f"\n1.1 MB paragraph indexed in {seconds:.1f} s")
