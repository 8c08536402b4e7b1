"""The flowing types: one Source for every citation, and passages that cannot change."""

from __future__ import annotations

import dataclasses

import pytest

from citeqa.types import Chunk, Citation, Document, Hit, Passage, ScoredSentence

DOCUMENT = Document(
    doc_id="port",
    text="Veracruz handled 1.4 million containers.",
    title="Port record",
    source="Reuters",
    published="2025-06-18",
    url="https://example.org/port",
)


def test_a_citation_carries_its_documents_source() -> None:
    citation = Citation.of(
        DOCUMENT,
        doc_id="port",
        char_start=17,
        char_end=28,
        sentence=DOCUMENT.text,
        sentence_start=0,
        sentence_end=len(DOCUMENT.text),
    )
    assert DOCUMENT.text[citation.char_start : citation.char_end] == "1.4 million"
    assert citation.source_fields() == DOCUMENT.source_fields()
    assert citation.source_fields() == {
        "title": "Port record",
        "source": "Reuters",
        "published": "2025-06-18",
        "url": "https://example.org/port",
    }


def test_a_citation_without_a_document_has_no_source() -> None:
    citation = Citation.of(
        None,
        doc_id="port",
        char_start=0,
        char_end=8,
        sentence="Veracruz",
        sentence_start=0,
        sentence_end=8,
    )
    assert set(citation.source_fields().values()) == {None}


def test_source_fields_are_keyword_only() -> None:
    # A positional third argument is the path, never the title: the store relies on it.
    document = Document("a", "text", "a.txt")
    assert document.path == "a.txt" and document.title is None


def test_passages_are_frozen() -> None:
    chunk = Chunk("port", 0, 0, len(DOCUMENT.text), DOCUMENT.text)
    sentence = ScoredSentence(0, "port", 0, len(DOCUMENT.text), DOCUMENT.text, 0.5, 0.5, 0.5)
    passage = Passage(Hit(chunk, 1.0), 1.0, (sentence,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        passage.score = 2.0  # type: ignore[misc]
    copy = Passage(Hit(dataclasses.replace(chunk, doc_id="copy"), 0.9), 0.9, (sentence,))
    leader = dataclasses.replace(passage, duplicates=(copy,))
    assert [c.doc_id for c in leader.also_reported_by] == ["copy"]
    assert passage.duplicates == ()
