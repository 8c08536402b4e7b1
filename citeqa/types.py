"""The data that flows through citeqa: Document -> Chunk -> (vector) -> Hit -> Answer.

Every offset is a character offset into the *original* document text, so any quoted span
can be checked by slicing the source: ``document.text[start:end] == span.text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The steps of an index write, in order; CITEQA_FAULT_AT can stop a writer at any of them.
WriteStep = Literal["before-temp", "during-copy", "after-rename", "before-current", "after-current"]


@dataclass(frozen=True)
class Span:
    """A typed region of a document (a sentence, a named entity, a noun chunk)."""

    start: int
    end: int
    label: str = ""


@dataclass(frozen=True)
class Document:
    """One article as read from disk, with the metadata a citation needs."""

    doc_id: str
    text: str
    title: str | None = None
    source: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    url: str | None = None
    path: str | None = None
    content_hash: str = ""


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; ``sentences`` lie inside ``[char_start, char_end)``."""

    doc_id: str
    index: int
    char_start: int
    char_end: int
    text: str
    sentences: tuple[Span, ...] = ()

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.index}"


@dataclass(frozen=True)
class Hit:
    """A chunk returned by retrieval with the scores that ranked it (None: not retrieved)."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """Where a quoted span comes from, checkable by slicing the document text."""

    doc_id: str
    char_start: int
    char_end: int
    sentence: str
    sentence_start: int
    sentence_end: int
    title: str | None = None
    source: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Answer:
    """An extractive answer: ``text`` is exactly the document slice the citation names."""

    text: str
    confidence: float
    citation: Citation
    answer_type: str = "sentence"
    supporting: tuple[Citation, ...] = field(default=())
