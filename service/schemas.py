"""HTTP request and response models (pydantic at the edge, dataclasses inside)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from citeqa.types import Answer, Citation, Document, Identified, Passage, QueryResult, Source
from indexer.loaders import DOC_ID_PATTERN, html_article, renamed_key
from indexer.page_cache import WarmState
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


# The response models derive their fields from the domain types of citeqa/types.py (pydantic
# reads a dataclass base's fields), so each field is declared once, there. The domain gives
# the source fields a default of None; the JSON still always sends them, and the schema says
# so (``json_schema_serialization_defaults_required``).
_ALWAYS_SENT = ConfigDict(json_schema_serialization_defaults_required=True)


def _domain_descriptions(schema: dict[str, Any], model: type[Any]) -> None:
    # pydantic reads a dataclass field's metadata only where the dataclass is a field's
    # type, not where it is a model's base: the descriptions are copied here instead.
    properties: dict[str, dict[str, Any]] = schema.get("properties", {})
    for base in model.__mro__:
        if is_dataclass(base):
            for domain_field in fields(base):
                description = domain_field.metadata.get("description")
                if description and domain_field.name in properties:
                    properties[domain_field.name]["description"] = description


# Frozen: a model derived from a frozen dataclass must be frozen too.
class SourcePublic(BaseModel, Source, frozen=True):
    """Where a text comes from: the fields every document and citation shows."""

    model_config = _ALWAYS_SENT


class CitationPublic(SourcePublic, Citation, frozen=True):
    pass


class AnswerPublic(BaseModel, Answer, frozen=True):
    model_config = ConfigDict(json_schema_extra=_domain_descriptions)

    # The public form of the domain's citations.
    citation: CitationPublic
    supporting: tuple[CitationPublic, ...]

    @classmethod
    def of(cls, answer: Answer) -> AnswerPublic:
        """The public form of an answer."""
        return cls.model_validate(answer, from_attributes=True)


# Another document that reports a passage. Its URL has never been sent: the field is only
# hidden here (a docstring would show in the schema, which stays as it was).
class DocumentRef(SourcePublic, Identified, frozen=True):
    url: str | None = Field(default=None, exclude=True)


@dataclass(frozen=True)
class _Ranked:
    rank: int
    score: float


# pydantic lays out the fields of the *last* base first, and a dataclass base comes after
# every model in the MRO: ``rank``, ``score`` and ``doc_id`` lead, as they always have.
class PassagePublic(SourcePublic, Identified, _Ranked, frozen=True):
    text: str
    char_start: int
    char_end: int
    also_reported_by: list[DocumentRef]


class QueryResponse(BaseModel, QueryResult, frozen=True):
    model_config = _ALWAYS_SENT

    answer: AnswerPublic | None
    alternatives: tuple[AnswerPublic, ...]
    # Not the domain's passages: each passage as the API shows it, ranked, with its source.
    passages: tuple[PassagePublic, ...]  # type: ignore[assignment]

    @classmethod
    def of(cls, result: QueryResult, documents: Mapping[str, Document]) -> QueryResponse:
        """The public form of a query result."""
        return cls(
            question=result.question,
            question_type=result.question_type,
            answer=AnswerPublic.of(result.answer) if result.answer else None,
            alternatives=tuple(AnswerPublic.of(a) for a in result.alternatives),
            sources_disagree=result.sources_disagree,
            passages=tuple(
                _passage(rank, p, documents) for rank, p in enumerate(result.passages, 1)
            ),
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


# The limits of what a request may send in each source field. The fields themselves are the
# domain's (``Source``); the limits are the API's alone, since files read from disk have
# none, so they are checked here and written into the schema, not declared a second time.
SOURCE_LIMITS = {"title": 1000, "source": 200, "url": 2000}


def _request_schema(schema: dict[str, Any]) -> None:
    properties: dict[str, dict[str, Any]] = schema["properties"]
    properties["doc_id"]["pattern"] = DOC_ID_PATTERN.pattern
    for name, limit in SOURCE_LIMITS.items():
        for option in properties[name].get("anyOf", [properties[name]]):
            if option.get("type") == "string":
                option["maxLength"] = limit
    for option in properties["published"].get("anyOf", []):
        if option.get("type") == "string":
            option["format"] = "date"


# How article files name a document's id; DocumentCreate reads it as ``doc_id``.
FILE_ID_KEY = "id"


class DocumentCreate(BaseModel, Source, Identified, frozen=True):
    """A document to add or replace: its id, its text (or its web page) and where it comes
    from."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_request_schema)

    text: str | None = Field(default=None, min_length=1, description="The article's text.")
    html: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Instead of text: the article's web page. Its article text is indexed, and its "
            "title, publisher, date and URL are taken from its markup where the body does "
            "not give them."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _id_as_files_name_it(cls, value: object) -> object:
        return renamed_key(value, FILE_ID_KEY, "doc_id")  # a .jsonl article reads the same

    @field_validator("doc_id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not DOC_ID_PATTERN.fullmatch(value):
            raise ValueError(
                "document id must be 1-128 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        if ".." in value:  # as the CLI's validate_doc_id: ids become file names and URLs
            raise ValueError("document id must not contain '..'")
        return value

    @field_validator("title", "source", "url")
    @classmethod
    def _within_limit(cls, value: str | None, info: ValidationInfo) -> str | None:
        limit = SOURCE_LIMITS[str(info.field_name)]
        if value is not None and len(value) > limit:
            raise ValueError(f"{info.field_name} is over {limit} characters: shorten it")
        return value

    @field_validator("published", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if value is None:
            return None
        checked = _date_text(value)
        day = checked if isinstance(checked, date) else _calendar_day(str(checked))
        return day.isoformat()

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("text is empty: send the article text")
        return value

    @model_validator(mode="after")
    def _text_or_html(self) -> DocumentCreate:
        if (self.text is None) == (self.html is None):
            raise ValueError(
                "send the article as `text` or its web page as `html`: one of them, not "
                f"{'both' if self.text is not None else 'neither'}"
            )
        return self

    def to_document(self) -> Document:
        """The document to index (CRLF line ends become LF); a web page's own title,
        publisher, date and URL fill the fields the body leaves out.

        Raises:
            BadFileError: ``html`` holds no article text.
        """
        page = Source()
        text = self.text
        if self.html is not None:
            text, page = html_article(self.html)
        assert text is not None  # one of the two, by the model's validator
        return Document(
            doc_id=self.doc_id,
            text=text.replace("\r\n", "\n"),
            title=self.title or page.title,
            source=self.source or page.source,
            published=self.published or page.published,
            url=self.url or page.url,
            path="api",
        )


# The keys a document body may hold: its fields, and the id as files name it.
DOCUMENT_KEYS = frozenset(DocumentCreate.model_fields) | {FILE_ID_KEY}


def _calendar_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:  # "2025-02-30"
        raise ValueError(f"{text} is not a day of the calendar") from error


class DocumentSummary(SourcePublic, Identified, frozen=True):
    chunks: int

    @classmethod
    def of(cls, document: Document, chunks: int) -> DocumentSummary:
        """A document's summary: id, citation metadata and chunk count."""
        return cls(doc_id=document.doc_id, **document.source_fields(), chunks=chunks)


class DocumentPublic(DocumentSummary, frozen=True):
    text: str

    @classmethod
    def of(cls, document: Document, chunks: int) -> DocumentPublic:
        """A document with its full text."""
        return cls(
            doc_id=document.doc_id, **document.source_fields(), chunks=chunks, text=document.text
        )


class DocumentsPublic(BaseModel):
    """One page of the documents, by id (OpenAI's list shape): ``count`` is every document
    in the index; with ``has_more``, ask again with ``after=last_id``."""

    data: list[DocumentSummary]
    count: int
    has_more: bool = False
    last_id: str | None = None


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
    # "warming" while the index's files are read into the page cache after start, then
    # "warm"; "off" when CITEQA_WARM_PAGE_CACHE is false or the index is too large for it.
    page_cache: WarmState = "off"


class DocumentWriteResult(BaseModel):
    doc_id: str
    status: DocumentStatus
    documents: int
    chunks: int
    generation: int | None
