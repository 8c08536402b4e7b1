"""Sentence-level re-scoring of hits, as numbers first and as passages second.

Answers live in sentences, so a passage is scored by its own similarity to the question and
by its best sentence (dense cosine plus IDF-weighted term coverage, :class:`Lexicon`, with
the index's corpus-wide statistics). The work is split in two so that its result can cross
a process boundary as a few arrays:

- :func:`score_hits` reads the chunks' sentences, their vectors and terms (the work done
  where the chunks live: one process, or the shard that holds them) and gives a
  :class:`PassageScores`, numbers only;
- :func:`passages_of` makes those numbers :class:`~citeqa.types.Passage` objects, given the
  hits and their sentences' texts (:func:`read_passages` slices the texts from an index's
  documents).

Example of the coverage:
    >>> from indexer.terms import CorpusStats, query_keys
    >>> lexicon = Lexicon(CorpusStats.of_texts(["Mexico extradited 92.", "Mexico sent 29."]))
    >>> question = lexicon.question("Has Mexico extradited anyone?")
    >>> round(lexicon.coverage(question, query_keys("extradited")), 2)
    0.26
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from citeqa.types import Hit, Passage, ScoredSentence
from indexer.embedding import Vectors
from indexer.index import Index
from indexer.segment import SentenceBlock
from indexer.terms import CorpusStats, Keys, SegmentTerms, TermLists, query_keys

SENTENCE_DENSE_WEIGHT = 0.6
PASSAGE_DENSE_WEIGHT = 0.45
PASSAGE_SENTENCE_WEIGHT = 0.35
PASSAGE_LEXICAL_WEIGHT = 0.2


@dataclass(frozen=True)
class QuestionTerms:
    """A question's distinct term keys and their IDF weights."""

    keys: Keys
    weights: npt.NDArray[np.float64]
    total: float
    # Per segment: the question's term numbers there (sorted), and for each the term's
    # place in ``keys``.
    numbered: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = field(
        default_factory=dict
    )


class Lexicon:
    """BM25's inverse document frequencies over the index's live chunks; unseen terms get
    the highest weight."""

    def __init__(self, stats: CorpusStats) -> None:
        self.stats = stats

    def question(self, text: str) -> QuestionTerms:
        """The question's terms, weighted once per query."""
        keys = np.unique(query_keys(text))
        weights = self.stats.idf(keys)
        return QuestionTerms(keys, weights, float(weights.sum()))

    def coverage(self, question: QuestionTerms, text_keys: Keys) -> float:
        """IDF-weighted share of the question's terms that ``text_keys`` contain, in [0, 1]."""
        if question.total == 0 or not len(text_keys):
            return 0.0
        inside = np.isin(question.keys, text_keys, assume_unique=True)
        return float(question.weights[inside].sum() / question.total)

    def coverages(
        self, question: QuestionTerms, lists: TermLists, segment: SegmentTerms
    ) -> npt.NDArray[np.float64]:
        """:meth:`coverage` of each row of ``lists`` (term numbers of ``segment``) at once."""
        rows = len(lists.offsets) - 1
        if question.total == 0 or not len(lists.terms):
            return np.zeros(rows, dtype=np.float64)
        numbered = question.numbered.get(lists.segment)
        if numbered is None:
            numbers = segment.numbers(question.keys)
            present = np.flatnonzero(numbers >= 0)
            order = np.argsort(numbers[present])
            numbered = (numbers[present][order], present[order])
            question.numbered[lists.segment] = numbered
        numbers, places = numbered
        if not len(numbers):
            return np.zeros(rows, dtype=np.float64)
        at = np.minimum(np.searchsorted(numbers, lists.terms), len(numbers) - 1)
        found = numbers[at] == lists.terms
        owner = np.repeat(np.arange(rows), np.diff(lists.offsets))
        weights = np.zeros((len(question.keys), rows), dtype=np.float64)
        place = places[at[found]]
        weights[place, owner[found]] = question.weights[place]
        # Summed term by term in the question's order: each row's sum is the same float
        # whichever rows are scored with it and whichever segment holds it.
        sums = np.zeros(rows, dtype=np.float64)
        for row_weights in weights:
            sums += row_weights
        return np.asarray(sums / question.total, dtype=np.float64)


@dataclass(frozen=True)
class PassageScores:
    """Hits re-scored, as arrays: hit ``i``'s passage scores ``scores[i]``, and its
    sentences, best first, are rows ``offsets[i]:offsets[i + 1]`` of the ``sentence_*``
    columns (their rows in the index's sentence table, their character offsets in the
    document, and their dense, lexical and mixed scores).

    Floats are float64, which holds the Python floats computed exactly.
    """

    scores: npt.NDArray[np.float64]
    offsets: npt.NDArray[np.int64]
    sentence_rows: npt.NDArray[np.int64]
    sentence_starts: npt.NDArray[np.int64]
    sentence_ends: npt.NDArray[np.int64]
    sentence_dense: npt.NDArray[np.float64]
    sentence_lexical: npt.NDArray[np.float64]
    sentence_scores: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def concat(cls, parts: Sequence[PassageScores]) -> PassageScores:
        """The hits of ``parts`` (one at least), in order, as one: the same numbers."""
        counts = np.concatenate([np.diff(part.offsets) for part in parts])

        def joined(name: str) -> npt.NDArray[Any]:
            return np.concatenate([getattr(part, name) for part in parts])

        return cls(
            scores=joined("scores"),
            offsets=np.cumsum([0, *counts.tolist()], dtype=np.int64),
            sentence_rows=joined("sentence_rows"),
            sentence_starts=joined("sentence_starts"),
            sentence_ends=joined("sentence_ends"),
            sentence_dense=joined("sentence_dense"),
            sentence_lexical=joined("sentence_lexical"),
            sentence_scores=joined("sentence_scores"),
        )

    def take(self, hits: Sequence[int]) -> PassageScores:
        """The scores of hits ``hits`` (indexes into this), in that order: the same numbers."""
        offsets = self.offsets.tolist()
        counts = [offsets[i + 1] - offsets[i] for i in hits]
        rows = np.concatenate(
            [np.arange(offsets[i], offsets[i + 1], dtype=np.int64) for i in hits]
            or [np.empty(0, dtype=np.int64)]
        )
        return PassageScores(
            scores=self.scores[list(hits)],
            offsets=np.cumsum([0, *counts], dtype=np.int64),
            sentence_rows=self.sentence_rows[rows],
            sentence_starts=self.sentence_starts[rows],
            sentence_ends=self.sentence_ends[rows],
            sentence_dense=self.sentence_dense[rows],
            sentence_lexical=self.sentence_lexical[rows],
            sentence_scores=self.sentence_scores[rows],
        )


def score_hits(
    index: Index,
    lexicon: Lexicon,
    positions: Sequence[int],
    *,
    query: Vectors,
    terms: QuestionTerms,
    rescore: bool,
    vectors: Vectors | None,
    hit_scores: Sequence[float],
) -> PassageScores:
    """The hits at chunk ``positions`` re-scored: their sentences, and with ``rescore``
    their own scores (from their chunk ``vectors``, needed then); without it a passage
    keeps its hit's score, from ``hit_scores``.

    Term coverage is computed for all the hits' sentences (and chunks) of a segment in one
    step; each row's sum is the same float as alone, so the scores do not depend on which
    hits are scored together.
    """
    blocks = [index.chunk_sentences(position) for position in positions]
    lexical = _coverages(lexicon, terms, index, [block.terms for block in blocks])
    sentences = _Sentences()
    best = [
        sentences.add(block, (block.vectors @ query).tolist(), lexical[i])
        for i, block in enumerate(blocks)
    ]
    if not rescore:
        scores = list(hit_scores)
    else:
        if vectors is None:
            raise ValueError("re-scoring needs the hits' chunk vectors")
        chunk_terms = [index.chunk_terms(position) for position in positions]
        chunk_lexical = _coverages(lexicon, terms, index, chunk_terms)
        scores = [
            PASSAGE_DENSE_WEIGHT * float(vectors[i] @ query)
            + PASSAGE_SENTENCE_WEIGHT * best[i]
            + PASSAGE_LEXICAL_WEIGHT * chunk_lexical[i][0]
            for i in range(len(positions))
        ]
    return sentences.scores(scores)


class _Sentences:
    """The sentence columns of a :class:`PassageScores`, filled one hit at a time."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.rows: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.dense: list[float] = []
        self.lexical: list[float] = []
        self.mixed: list[float] = []

    def add(self, block: SentenceBlock, dense: list[float], lexical: list[float]) -> float:
        """Add a hit's sentences, best first; its best sentence's mixed score (0 if none)."""
        mixed = [
            SENTENCE_DENSE_WEIGHT * d + (1 - SENTENCE_DENSE_WEIGHT) * c
            for d, c in zip(dense, lexical, strict=True)
        ]
        # Best first; a stable sort, so equal scores keep the document's order.
        order = sorted(range(len(mixed)), key=lambda j: -mixed[j])
        starts, ends = block.starts.tolist(), block.ends.tolist()
        self.rows += [block.first + j for j in order]
        self.starts += [starts[j] for j in order]
        self.ends += [ends[j] for j in order]
        self.dense += [dense[j] for j in order]
        self.lexical += [lexical[j] for j in order]
        self.mixed += [mixed[j] for j in order]
        self.counts.append(len(order))
        return mixed[order[0]] if order else 0.0

    def scores(self, passage_scores: Sequence[float]) -> PassageScores:
        """These sentences, under passages scored ``passage_scores``."""
        return PassageScores(
            scores=np.array(passage_scores, dtype=np.float64),
            offsets=np.cumsum([0, *self.counts], dtype=np.int64),
            sentence_rows=np.array(self.rows, dtype=np.int64),
            sentence_starts=np.array(self.starts, dtype=np.int64),
            sentence_ends=np.array(self.ends, dtype=np.int64),
            sentence_dense=np.array(self.dense, dtype=np.float64),
            sentence_lexical=np.array(self.lexical, dtype=np.float64),
            sentence_scores=np.array(self.mixed, dtype=np.float64),
        )


def sentence_texts(scores: PassageScores, document_texts: Sequence[str]) -> list[str]:
    """The texts of the sentences of ``scores``, in its order; ``document_texts[i]`` is the
    text of hit ``i``'s document."""
    offsets = scores.offsets.tolist()
    starts, ends = scores.sentence_starts.tolist(), scores.sentence_ends.tolist()
    return [
        text[starts[j] : ends[j]]
        for i, text in enumerate(document_texts)
        for j in range(offsets[i], offsets[i + 1])
    ]


def passages_of(hits: Sequence[Hit], scores: PassageScores, texts: Sequence[str]) -> list[Passage]:
    """The hits as passages, from their re-scoring and their sentences' ``texts`` (in the
    order of ``scores``)."""
    if len(hits) != len(scores) or len(texts) != len(scores.sentence_rows):
        raise ValueError(
            f"{len(hits)} hits and {len(texts)} sentence texts for {len(scores)} passages "
            f"of {len(scores.sentence_rows)} sentences"
        )
    offsets, passage_scores = scores.offsets.tolist(), scores.scores.tolist()
    rows, starts, ends = (
        scores.sentence_rows.tolist(),
        scores.sentence_starts.tolist(),
        scores.sentence_ends.tolist(),
    )
    dense, lexical, mixed = (
        scores.sentence_dense.tolist(),
        scores.sentence_lexical.tolist(),
        scores.sentence_scores.tolist(),
    )
    passages = []
    for i, hit in enumerate(hits):
        doc_id = hit.chunk.doc_id
        sentences = tuple(
            ScoredSentence(
                rows[j], doc_id, starts[j], ends[j], texts[j], dense[j], lexical[j], mixed[j]
            )
            for j in range(offsets[i], offsets[i + 1])
        )
        passages.append(Passage(hit, passage_scores[i], sentences))
    return passages


def read_passages(index: Index, hits: Sequence[Hit], scores: PassageScores) -> list[Passage]:
    """:func:`passages_of`, the sentences' texts sliced from ``index``'s documents."""
    documents = index.documents.many([hit.chunk.doc_id for hit in hits])
    texts = sentence_texts(scores, [documents[hit.chunk.doc_id].text for hit in hits])
    return passages_of(hits, scores, texts)


def _coverages(
    lexicon: Lexicon, terms: QuestionTerms, index: Index, lists: Sequence[TermLists]
) -> list[list[float]]:
    """:meth:`Lexicon.coverages` of each list's rows, one call per segment."""
    out: list[list[float]] = [[] for _ in lists]
    by_segment: dict[int, list[int]] = {}
    for i, found in enumerate(lists):
        by_segment.setdefault(found.segment, []).append(i)
    for segment, members in by_segment.items():
        parts = [lists[i] for i in members]
        rows = [len(part.offsets) - 1 for part in parts]
        starts = np.cumsum([0, *(len(part.terms) for part in parts)])
        joined = TermLists(
            segment,
            np.concatenate(
                [part.offsets[:-1] + start for part, start in zip(parts, starts, strict=False)]
                + [starts[-1:]]
            ).astype(np.int64),
            np.concatenate([part.terms for part in parts]).astype(np.int32, copy=False),
        )
        scores = lexicon.coverages(terms, joined, index.segments[segment].terms).tolist()
        at = 0
        for i, count in zip(members, rows, strict=True):
            out[i] = scores[at : at + count]
            at += count
    return out
