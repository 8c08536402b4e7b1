"""Hand-made documents, passages and stand-ins for the index, retriever, embedder and reader.

The answering code reads only a few things of an index (documents, spans by kind, corpus
statistics, whether entities were kept), so these tests need neither a built index nor a
model: every passage, sentence and entity below is written out by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from citeqa.types import Chunk, Document, Hit, Passage, ScoredSentence, Span
from indexer.embedding import Embedder, Vectors
from indexer.index import Index
from indexer.terms import CorpusStats
from service.reading.reader import ReaderSpan
from service.retrieval.retriever import Filters, RetrievalOptions

EXTRADITIONS = Document(
    "mexico",
    "Mexico sends cartel figures north\n"
    "By Staff, June 18, 2025\n"
    "\n"
    "To date, Mexico has extradited 92 people to the United States. "
    "In February it sent 29 cartel figures because Washington threatened new tariffs.",
    title="Mexico sends cartel figures north",
    source="Reuters",
    published="2025-06-18",
)
HARVEST = Document(
    "harvest",
    "Farmers in Iowa harvested corn early this year. The harvest began on 3 September.",
    title="An early harvest",
)
DOCUMENTS = {d.doc_id: d for d in (EXTRADITIONS, HARVEST)}


def span_of(document: Document, text: str, label: str = "", after: str = "") -> Span:
    """The first occurrence of ``text`` in the document (from that of ``after``), labelled."""
    start = document.text.index(text, document.text.index(after) if after else 0)
    return Span(start, start + len(text), label)


# What spaCy would have stored at index time (entities, noun chunks, the byline's date).
SPANS: dict[tuple[str, str], list[Span]] = {
    ("mexico", "entity"): [
        span_of(EXTRADITIONS, "Mexico", "GPE"),  # the title's
        span_of(EXTRADITIONS, "To date", "DATE"),
        span_of(EXTRADITIONS, "Mexico", "GPE", after="To date"),
        span_of(EXTRADITIONS, "92", "CARDINAL"),
        span_of(EXTRADITIONS, "the United States", "GPE"),
        span_of(EXTRADITIONS, "February", "DATE"),
        span_of(EXTRADITIONS, "Washington", "GPE"),
    ],
    ("mexico", "noun_chunk"): [
        span_of(EXTRADITIONS, "92 people"),
        span_of(EXTRADITIONS, "29 cartel figures"),
        span_of(EXTRADITIONS, "new tariffs"),
    ],
    ("mexico", "metadata"): [span_of(EXTRADITIONS, "June 18, 2025", "published")],
    ("harvest", "entity"): [
        span_of(HARVEST, "Iowa", "GPE"),
        span_of(HARVEST, "this year", "DATE"),
        span_of(HARVEST, "3 September", "DATE"),
    ],
    ("harvest", "noun_chunk"): [span_of(HARVEST, "Farmers"), span_of(HARVEST, "corn")],
}


@dataclass
class FakeManifest:
    entities: bool = True


@dataclass
class FakeIndex:
    """The parts of :class:`indexer.index.Index` that answering reads."""

    documents: dict[str, Document] = field(default_factory=lambda: dict(DOCUMENTS))
    spans_by_kind: dict[tuple[str, str], list[Span]] = field(default_factory=lambda: SPANS)
    manifest: FakeManifest = field(default_factory=FakeManifest)
    folder: Path = Path("fake-index")
    stats: CorpusStats = field(
        default_factory=lambda: CorpusStats.of_texts([d.text for d in DOCUMENTS.values()])
    )

    def spans(self, doc_id: str, kind: str, start: int = 0, end: int | None = None) -> list[Span]:
        stop = len(self.documents[doc_id].text) if end is None else end
        return [s for s in self.spans_by_kind.get((doc_id, kind), []) if start <= s.start < stop]


def fake_index(entities: bool = True) -> Index:
    """A :class:`FakeIndex`, typed as the index the answering code expects."""
    return cast(Index, FakeIndex(manifest=FakeManifest(entities)))


def sentence(
    document: Document, text: str, row: int, score: float, dense: float = 0.5
) -> ScoredSentence:
    """The sentence ``text`` of ``document``, scored by hand."""
    span = span_of(document, text)
    return ScoredSentence(row, document.doc_id, span.start, span.end, text, dense, 0.5, score)


def passage(
    document: Document,
    sentences: Sequence[ScoredSentence],
    score: float,
    index: int = 0,
    dense_score: float | None = 0.6,
    duplicates: tuple[Passage, ...] = (),
) -> Passage:
    """A passage whose chunk runs from its first sentence to its last."""
    start = min(s.start for s in sentences)
    end = max(s.end for s in sentences)
    chunk = Chunk(document.doc_id, index, start, end, document.text[start:end])
    hit = Hit(chunk, score, dense_score=dense_score)
    return Passage(hit, score, tuple(sorted(sentences, key=lambda s: -s.score)), duplicates)


TOTAL = sentence(
    EXTRADITIONS, "To date, Mexico has extradited 92 people to the United States.", 10, 0.9
)
FEBRUARY = sentence(
    EXTRADITIONS,
    "In February it sent 29 cartel figures because Washington threatened new tariffs.",
    11,
    0.6,
)
FARMERS = sentence(HARVEST, "Farmers in Iowa harvested corn early this year.", 20, 0.3)
BEGAN = sentence(HARVEST, "The harvest began on 3 September.", 21, 0.2)


def extradition_passages() -> list[Passage]:
    """The article on extraditions first, then an unrelated one."""
    return [
        passage(EXTRADITIONS, [TOTAL, FEBRUARY], 0.8),
        passage(HARVEST, [FARMERS, BEGAN], 0.3),
    ]


@dataclass
class RetrieveCall:
    question: str
    top_k: int
    filters: Filters | None
    options: RetrievalOptions | None


class FakeRetriever:
    """Returns the given passages, whatever the question, and records each call."""

    def __init__(self, index: Index, passages: Sequence[Passage]) -> None:
        self._index = index
        self.passages = list(passages)
        self.calls: list[RetrieveCall] = []

    @property
    def index(self) -> Index:
        return self._index

    def retrieve(
        self,
        question: str,
        query_vector: Vectors,
        top_k: int,
        filters: Filters | None = None,
        options: RetrievalOptions | None = None,
    ) -> list[Passage]:
        assert query_vector.shape == (1, 4)
        self.calls.append(RetrieveCall(question, top_k, filters, options))
        return self.passages[:top_k]


class FakeEmbedder:
    """Encodes every question as the same vector, and records what it encoded."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def encode_query(self, text: str) -> Vectors:
        self.queries.append(text)
        return np.full((1, 4), 0.5, dtype=np.float32)


def fake_embedder() -> tuple[Embedder, FakeEmbedder]:
    """The fake, typed as an :class:`Embedder`, and itself (to read what it recorded)."""
    fake = FakeEmbedder()
    return cast(Embedder, fake), fake


class FakeReader:
    """A span reader that finds the given words in each context, with a fixed margin."""

    def __init__(self, margins: dict[str, float]) -> None:
        self.margins = margins
        self.questions: list[str] = []

    def read(
        self,
        question: str,
        contexts: Sequence[str],
        focuses: Sequence[int] | None = None,
        spans_per_context: int = 3,
        stride: int = 128,
        prefer: Callable[[str], bool] | None = None,
    ) -> list[ReaderSpan]:
        del focuses, stride, prefer  # the real reader's knobs; the fake has none
        self.questions.append(question)
        spans = []
        for at, context in enumerate(contexts):
            found = [
                ReaderSpan(at, start, start + len(word), word, margin, 0.0)
                for word, margin in self.margins.items()
                if (start := context.find(word)) >= 0
            ]
            spans += sorted(found, key=lambda s: -s.margin)[:spans_per_context]
        return spans
