"""The data that flows through citeqa, defined once.

Indexing turns files into ``Document -> Chunk``; a query turns chunks into
``Hit -> Passage -> Candidate -> Answer -> QueryResult``. All are frozen dataclasses.

Every offset is a character offset into the *original* document text, so any quoted span
can be checked by slicing the source: ``document.text[start:end] == span.text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

# The steps of an index write, in order; the reliability tests stop a writer at each of them.
WriteStep = Literal[
    "before-temp", "during-write", "after-rename", "before-current", "after-current"
]
# What a question asks for, from its wh-phrase (service/answering/question.py).
QuestionKind = Literal[
    "who", "when", "where", "how_many", "how_much", "which", "what", "why", "how", "other"
]
# An answer is a span of the kind the question asked for, or a whole sentence.
AnswerType = Literal[QuestionKind, "sentence"]


@dataclass(frozen=True)
class Span:
    """A typed region of a document (a sentence, a named entity, a noun chunk)."""

    start: int
    end: int
    label: str = ""


@dataclass(frozen=True)
class Identified:
    """The id of the document a thing is, or is taken from."""

    doc_id: str


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where a text comes from: what a citation shows about its document.

    ``Document`` and ``Citation`` carry these fields; ``Citation.of`` copies them.
    """

    title: str | None = None
    source: str | None = None  # the publisher
    published: str | None = None  # ISO date, YYYY-MM-DD
    url: str | None = None

    def source_fields(self) -> dict[str, str | None]:
        """These four fields by name, to hand on: ``Model(**document.source_fields())``."""
        return {f.name: getattr(self, f.name) for f in fields(Source)}


# A dataclass lays out the fields of its *last* base first: ``doc_id`` leads, then the
# source fields, in the JSON of the HTTP models derived from these types too.
@dataclass(frozen=True)
class Document(Source, Identified):
    """One article as read from disk, with the metadata a citation needs."""

    text: str
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
        """``doc_id#index``: unique in an index."""
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
    # The chunk's position in the index it was found in (-1: made outside any index).
    position: int = -1


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved chunk, scored against the question.

    ``row`` is its row in the index's sentence table; ``score`` mixes ``dense`` (cosine) and
    ``lexical`` (term coverage).
    """

    row: int
    doc_id: str
    start: int
    end: int
    text: str
    dense: float
    lexical: float
    score: float


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, re-scored, with its sentences best first."""

    hit: Hit
    score: float
    sentences: tuple[ScoredSentence, ...]
    # Near-identical passages collapsed into this one. They are still read for answers: a
    # copy whose figures were altered is exactly where sources disagree.
    duplicates: tuple[Passage, ...] = ()

    @property
    def also_reported_by(self) -> list[Chunk]:
        """Duplicates from other documents (copies inside one document are just overlap)."""
        return [d.chunk for d in self.duplicates if d.chunk.doc_id != self.chunk.doc_id]

    @property
    def chunk(self) -> Chunk:
        """The chunk this passage was retrieved as."""
        return self.hit.chunk


@dataclass(frozen=True)
class Candidate:
    """A span that may answer the question, with the sentence it was found in."""

    doc_id: str
    start: int
    end: int
    text: str
    label: str
    score: float
    sentence: ScoredSentence


@dataclass(frozen=True)
class Citation(Source, Identified):
    """Where a quoted span comes from, checkable by slicing the document text."""

    char_start: int
    char_end: int
    sentence: str
    sentence_start: int
    sentence_end: int

    @classmethod
    def of(
        cls,
        document: Source | None,
        *,
        doc_id: str,
        char_start: int,
        char_end: int,
        sentence: str,
        sentence_start: int,
        sentence_end: int,
    ) -> Citation:
        """Cite ``[char_start, char_end)`` of ``doc_id``, inside the given sentence.

        The title, publisher, date and URL come from ``document``; all are None without one.
        """
        return cls(
            doc_id=doc_id,
            char_start=char_start,
            char_end=char_end,
            sentence=sentence,
            sentence_start=sentence_start,
            sentence_end=sentence_end,
            **(document or Source()).source_fields(),
        )


@dataclass(frozen=True, kw_only=True)
class Answer:
    """An extractive answer: ``text`` is exactly the document slice the citation names.

    A field's ``description`` is what the HTTP schema shows for it (service/schemas.py
    copies it there).
    """

    text: str
    confidence: float
    answer_type: AnswerType
    citation: Citation
    supporting: tuple[Citation, ...]
    qualifier: str | None = field(
        default=None,
        metadata={
            "description": "The scope or time the value is stated for in its sentence "
            '("to date", "in February", "in the latest flight"); null when it states none.'
        },
    )
    disagrees: bool = field(
        default=False,
        metadata={
            "description": "For an alternative: another source gives this value for the same "
            "scope as the answer (a real disagreement), rather than for another scope or in "
            "the same document (context)."
        },
    )


@dataclass(frozen=True)
class QueryResult:
    """A question's answer (None: abstained), differing figures, and the passages read."""

    question: str
    question_type: QuestionKind
    answer: Answer | None
    alternatives: tuple[Answer, ...]
    sources_disagree: bool
    passages: tuple[Passage, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
