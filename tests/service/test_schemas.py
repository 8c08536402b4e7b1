"""HTTP models keep their JSON key order while taking their fields from the domain types."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest
from pydantic import BaseModel

from citeqa.types import Answer, Citation, QueryResult, Source
from indexer.loaders import JsonlArticle
from service.schemas import (
    AnswerPublic,
    CitationPublic,
    DocumentPublic,
    DocumentRef,
    DocumentSummary,
    PassagePublic,
    QueryResponse,
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


# The fields an edge model may annotate again: a nested domain type narrowed to its public
# form, or a field hidden from the JSON. Anything else would be a second declaration.
NARROWED: dict[type[BaseModel], set[str]] = {
    AnswerPublic: {"citation", "supporting"},
    QueryResponse: {"answer", "alternatives", "passages"},
    DocumentRef: {"url"},
}


@pytest.mark.parametrize(
    ("model", "domain"),
    [
        (SourcePublic, Source),
        (CitationPublic, Citation),
        (AnswerPublic, Answer),
        (QueryResponse, QueryResult),
        (DocumentRef, Source),
        (PassagePublic, Source),
        (DocumentSummary, Source),
        (DocumentPublic, Source),
        (JsonlArticle, Source),
    ],
)
def test_edge_models_declare_no_domain_field_again(
    model: type[BaseModel], domain: type[object]
) -> None:
    domain_fields = {f.name for f in fields(domain)}  # type: ignore[arg-type]
    own = set(inspect.get_annotations(model))
    assert own & domain_fields <= NARROWED.get(model, set())
    assert domain_fields <= set(model.model_fields)


def test_field_descriptions_come_from_the_domain_type() -> None:
    schema = AnswerPublic.model_json_schema(mode="serialization")["properties"]
    for domain_field in fields(Answer):
        if "description" in domain_field.metadata:
            assert schema[domain_field.name]["description"] == domain_field.metadata["description"]
