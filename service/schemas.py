"""HTTP request and response models (pydantic at the edge, dataclasses inside)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from citeqa.types import Answer, AnswerType, Citation, Document, Passage, QueryResult, QuestionKind
from indexer.loaders import DOC_ID_PATTERN
from service.retrieval.retriever import Filters

MAX_QUESTION_CHARS = 1000
DocId = Annotated[str, StringConstraints(pattern=DOC_ID_PATTERN.pattern)]
DocumentStatus = Literal["added", "replaced", "unchanged", "deleted"]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_text(value: object) -> object:
    # JSON has no date type: a date is a "YYYY-MM-DD" string (the schema's `format: date`).
    # Neither `0` nor "0" is one, though pydantic would read both as the epoch.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("give the date as a 'YYYY-MM-DD' string")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text)]


def _json_integer(value: object) -> object:
    # JSON Schema's "integer" admits 8.0 (a whole number), as the OpenAPI schema promises;
    # `true` and `"5"` are not numbers. 5.5 still fails as not whole.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("give a whole number")
    return value


JsonInteger = Annotated[int, BeforeValidator(_json_integer)]


class QueryFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(default_factory=list, max_length=50)
    published_from: IsoDate | None = None
    published_to: IsoDate | None = None

    @model_validator(mode="after")
    def _range_in_order(self) -> QueryFilters:
        if self.published_from and self.published_to and self.published_from > self.published_to:
            raise ValueError(
                f"published_from ({self.published_from}) is after published_to "
                f"({self.published_to}): swap them"
            )
        return self

    def to_filters(self) -> Filters:
        """The retrieval filters this request asks for (publishers compared case-blind)."""
        return Filters(
            frozenset(s.casefold() for s in self.sources), self.published_from, self.published_to
        )


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: JsonInteger = Field(default=5, ge=1, le=50)
    filters: QueryFilters | None = None

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is empty or only whitespace: ask something")
        return value.strip()


class SourcePublic(BaseModel):
    """Where a text comes from: the fields every document and citation shows."""

    title: str | None
    source: str | None
    published: str | None
    url: str | None


# pydantic lays out the fields of the *last* base first. The models below list a small base
# after SourcePublic so that ``doc_id`` (and a passage's rank) lead, as they always have in
# the JSON.
class _DocumentId(BaseModel):
    doc_id: str


class CitationPublic(SourcePublic, _DocumentId):
    char_start: int
    char_end: int
    sentence: str
    sentence_start: int
    sentence_end: int

    @classmethod
    def of(cls, citation: Citation) -> CitationPublic:
        """The public form of a citation."""
        return cls(**citation.__dict__)


class AnswerPublic(BaseModel):
    text: str
    confidence: float
    answer_type: AnswerType
    citation: CitationPublic
    supporting: list[CitationPublic]
    qualifier: str | None = Field(
        default=None,
        description="The scope or time the value is stated for in its sentence "
        '("to date", "in February", "in the latest flight"); null when it states none.',
    )
    disagrees: bool = Field(
        default=False,
        description="For an alternative: another source gives this value for the same scope "
        "as the answer (a real disagreement), rather than for another scope or in the same "
        "document (context).",
    )

    @classmethod
    def of(cls, answer: Answer) -> AnswerPublic:
        """The public form of an answer."""
        return cls(
            text=answer.text,
            confidence=answer.confidence,
            answer_type=answer.answer_type,
            citation=CitationPublic.of(answer.citation),
            supporting=[CitationPublic.of(c) for c in answer.supporting],
            qualifier=answer.qualifier,
            disagrees=answer.disagrees,
        )


class DocumentRef(BaseModel):
    doc_id: str
    title: str | None
    source: str | None
    published: str | None


class _RankedDocument(BaseModel):
    rank: int
    score: float
    doc_id: str


class PassagePublic(SourcePublic, _RankedDocument):
    text: str
    char_start: int
    char_end: int
    also_reported_by: list[DocumentRef]


class QueryResponse(BaseModel):
    question: str
    question_type: QuestionKind
    answer: AnswerPublic | None
    alternatives: list[AnswerPublic]
    sources_disagree: bool
    passages: list[PassagePublic]
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, result: QueryResult, documents: Mapping[str, Document]) -> QueryResponse:
        """The public form of a query result."""
        return cls(
            question=result.question,
            question_type=result.question_type,
            answer=AnswerPublic.of(result.answer) if result.answer else None,
            alternatives=[AnswerPublic.of(a) for a in result.alternatives],
            sources_disagree=result.sources_disagree,
            passages=[_passage(rank, p, documents) for rank, p in enumerate(result.passages, 1)],
            timings_ms=result.timings_ms,
        )


def _passage(rank: int, passage: Passage, documents: Mapping[str, Document]) -> PassagePublic:
    document = documents[passage.chunk.doc_id]
    also = {c.doc_id: documents[c.doc_id] for c in passage.also_reported_by}
    return PassagePublic(
        rank=rank,
        score=round(passage.score, 6),
        doc_id=document.doc_id,
        **document.source_fields(),
        text=passage.chunk.text,
        char_start=passage.chunk.char_start,
        char_end=passage.chunk.char_end,
        also_reported_by=[
            DocumentRef.model_validate(d, from_attributes=True) for d in also.values()
        ],
    )


class DocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_id: DocId
    text: str = Field(min_length=1)
    title: str | None = Field(default=None, max_length=1000)
    source: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    published: IsoDate | None = None

    @field_validator("doc_id")
    @classmethod
    def _no_parent_step(cls, value: str) -> str:
        if ".." in value:  # as the CLI's validate_doc_id: ids become file names and URLs
            raise ValueError("document id must not contain '..'")
        return value

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty: send the article text")
        return value

    def to_document(self) -> Document:
        """The document to index (CRLF line ends become LF)."""
        return Document(
            doc_id=self.doc_id,
            text=self.text.replace("\r\n", "\n"),
            title=self.title,
            source=self.source,
            url=self.url,
            published=self.published.isoformat() if self.published else None,
            path="api",
        )


class DocumentSummary(SourcePublic, _DocumentId):
    chunks: int

    @classmethod
    def of(cls, document: Document, chunks: int) -> DocumentSummary:
        """A document's summary: id, citation metadata and chunk count."""
        return cls(doc_id=document.doc_id, **document.source_fields(), chunks=chunks)


class DocumentPublic(DocumentSummary):
    text: str

    @classmethod
    def of(cls, document: Document, chunks: int) -> DocumentPublic:
        """A document with its full text."""
        return cls(
            doc_id=document.doc_id, **document.source_fields(), chunks=chunks, text=document.text
        )


class DocumentsPublic(BaseModel):
    data: list[DocumentSummary]
    count: int


class ErrorResponse(BaseModel):
    """Every error outside the chat routes: one message that says what went wrong and what
    to do (validation errors name each field: ``"top_k: Input should be ..."``)."""

    detail: str


class Readiness(BaseModel):
    ready: bool
    embedding_model: str
    reader_model: str
    index_dir: str
    generation: int | None
    documents: int
    chunks: int


class DocumentWriteResult(BaseModel):
    doc_id: str
    status: DocumentStatus
    documents: int
    chunks: int
    generation: int | None
