"""HTTP models keep their JSON key order while sharing SourcePublic's fields."""

from __future__ import annotations

from service.schemas import (
    CitationPublic,
    DocumentPublic,
    DocumentSummary,
    PassagePublic,
    SourcePublic,
)

SOURCE = ["title", "source", "published", "url"]


def test_source_fields_follow_the_document_id_as_before() -> None:
    # pydantic puts inherited fields first; the order below is the published JSON's.
    assert list(CitationPublic.model_fields) == [
        "doc_id",
        *SOURCE,
        "char_start",
        "char_end",
        "sentence",
        "sentence_start",
        "sentence_end",
    ]
    assert list(PassagePublic.model_fields) == [
        "rank",
        "score",
        "doc_id",
        *SOURCE,
        "text",
        "char_start",
        "char_end",
        "also_reported_by",
    ]
    assert list(DocumentSummary.model_fields) == ["doc_id", *SOURCE, "chunks"]
    assert list(DocumentPublic.model_fields) == ["doc_id", *SOURCE, "chunks", "text"]


def test_every_source_carrying_model_derives_from_source_public() -> None:
    for model in (CitationPublic, PassagePublic, DocumentSummary, DocumentPublic):
        assert issubclass(model, SourcePublic)
