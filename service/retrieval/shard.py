"""One shard's part of a query: its top lists, and re-scoring the candidates it holds.

A :class:`ShardSearcher` opens one generation restricted to one shard's segments, with the
generation's corpus-wide statistics (:mod:`indexer.shards`), and answers three requests;
every request and answer is a frozen dataclass of numbers, strings and arrays, so it can
cross a process boundary (a Ray Serve deployment per shard, say) as it is:

- :meth:`ShardSearcher.search`: the shard's dense and BM25 top ``k``, by the generation's
  chunk positions (the same in every process that loads it), as arrays
  (:class:`RankedChunks`);
- :meth:`ShardSearcher.score`: for candidates it holds, the metadata filter, the sentence
  re-scoring (sentence vectors and terms live here) and the chunk vectors that
  de-duplication compares;
- :meth:`ShardSearcher.document_text`: a document's text, to join overlapping chunks.

Each request names the generation it was planned on; a shard serving another refuses it
(:class:`service.errors.ShardGenerationError`), so no query mixes two manifests. The
coordinator is :class:`service.retrieval.coordinator.ShardedRetriever`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from citeqa.types import Hit, Passage
from indexer.embedding import Embedder, Vectors
from indexer.index import Index, load_index
from service.errors import ShardGenerationError
from service.retrieval.hybrid import BM25Retriever, DenseRetriever, Ranked, SearchMode
from service.retrieval.lexicon import Lexicon
from service.retrieval.rescoring import score_passages
from service.retrieval.retriever import Filters

T = TypeVar("T")


@dataclass(frozen=True)
class ShardInfo:
    """Which shard a searcher serves, of which generation."""

    shard: int
    shards: int
    generation: int
    stats_hash: str | None


@dataclass(frozen=True)
class RankedChunk:
    """One chunk a retriever found in a shard, with the key that breaks score ties."""

    position: int
    score: float
    doc_id: str
    index: int  # the chunk's index in its document

    @property
    def order(self) -> tuple[float, str, int]:
        """Best first; ties go to the lower (document id, chunk index), as in one process."""
        return (-self.score, self.doc_id, self.index)


@dataclass(frozen=True)
class SearchRequest:
    generation: int
    question: str
    query_vector: Vectors | None  # needed by dense and hybrid search
    k: int
    mode: SearchMode = "hybrid"


@dataclass(frozen=True)
class RankedChunks:
    """One retriever's top ``k`` in a shard, best first, as columns: chunk positions,
    scores, and the (document id, chunk index) that break score ties. Arrays, not a
    :class:`RankedChunk` each: a shard's answer is pickled, and objects cost more to move
    than the numbers they hold."""

    positions: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]  # the retrievers' Python floats, exactly
    doc_ids: tuple[str, ...]
    indexes: npt.NDArray[np.int64]

    @classmethod
    def of(cls, ranked: Sequence[Ranked], keys: Sequence[tuple[str, int]]) -> RankedChunks:
        """Columns of ``ranked``, whose tie-break keys are ``keys``."""
        return cls(
            np.array([r.position for r in ranked], dtype=np.int64),
            np.array([r.score for r in ranked], dtype=np.float64),
            tuple(doc_id for doc_id, _ in keys),
            np.array([index for _, index in keys], dtype=np.int64),
        )

    def unpack(self) -> list[RankedChunk]:
        """One :class:`RankedChunk` a row, best first."""
        return [
            RankedChunk(position, score, doc_id, index)
            for position, score, doc_id, index in zip(
                self.positions.tolist(), self.scores.tolist(), self.doc_ids,
                self.indexes.tolist(), strict=True,
            )
        ]  # fmt: skip

    def __len__(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class ShardLists:
    """A shard's top ``k`` of each retriever, best first."""

    shard: int
    dense: RankedChunks
    bm25: RankedChunks


@dataclass(frozen=True)
class Candidate:
    """A fused hit, without its chunk: the shard that holds it fills that in."""

    position: int
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True)
class ScoreRequest:
    generation: int
    question: str
    query_vector: Vectors
    candidates: tuple[Candidate, ...]
    filters: Filters
    rescore: bool
    # False when the caller reads chunk vectors from its own copy of the generation: they
    # are most of an answer's bytes.
    vectors: bool = True


@dataclass(frozen=True)
class ScoredPassage:
    """A candidate as a passage, with its chunk vector; ``passage`` is None when the
    filters refused its document."""

    passage: Passage | None
    vector: Vectors | None


class Done(Generic[T]):
    """An answer already computed, handed over by :meth:`result` (a call in this process)."""

    def __init__(self, answer: T) -> None:
        self.answer = answer

    def result(self) -> T:
        """The answer."""
        return self.answer


class ShardSearcher:
    """Serves one shard of one generation (see the module docstring).

    Example:
        >>> searcher = ShardSearcher.open(Path("data/index"), shard=0)  # doctest: +SKIP
        >>> searcher.info.generation  # doctest: +SKIP
        7
    """

    def __init__(self, index: Index) -> None:
        if index.shard is None:
            raise ValueError("open the index with a shard: load_index(index_dir, shard=k)")
        self.index = index
        manifest = index.manifest
        self.info = ShardInfo(
            index.shard, manifest.shards, manifest.generation, manifest.stats_hash
        )
        self.dense = DenseRetriever(index)
        self.bm25 = BM25Retriever(index)
        self.lexicon = Lexicon(index.stats)

    @classmethod
    def open(cls, index_dir: Path, shard: int, embedder: Embedder | None = None) -> ShardSearcher:
        """Open shard ``shard`` of the current generation of ``index_dir``."""
        return cls(load_index(index_dir, embedder, shard=shard))

    def close(self) -> None:
        """Let go of the generation (a later write may then remove it)."""
        self.index.close()

    def describe(self) -> ShardInfo:
        """Which shard and generation this searcher serves."""
        return self.info

    def _check(self, generation: int) -> None:
        if generation != self.info.generation:
            raise ShardGenerationError(
                f"shard {self.info.shard} serves generation {self.info.generation}, the query "
                f"was planned on generation {generation}; retry it",
                shard=self.info.shard,
            )

    def search(self, request: SearchRequest) -> ShardLists:
        """This shard's top ``k`` chunks by dense and by BM25 search."""
        self._check(request.generation)
        dense: list[Ranked] = []
        lexical: list[Ranked] = []
        if request.mode in ("dense", "hybrid"):
            if request.query_vector is None:
                raise ValueError("dense and hybrid search need a query vector")
            dense = self.dense.search(request.query_vector, request.k)
        if request.mode in ("bm25", "hybrid"):
            lexical = self.bm25.search(request.question, request.k)
        return ShardLists(self.info.shard, self._keyed(dense), self._keyed(lexical))

    def submit_search(self, request: SearchRequest) -> Done[ShardLists]:
        """:meth:`search`, done now: in one process there is nothing to overlap."""
        return Done(self.search(request))

    def _keyed(self, ranked: list[Ranked]) -> RankedChunks:
        return RankedChunks.of(ranked, [self.index.sort_key(r.position) for r in ranked])

    def score(self, request: ScoreRequest) -> tuple[ScoredPassage, ...]:
        """Filter and re-score candidates this shard holds, in the order given."""
        self._check(request.generation)
        index = self.index
        filters = request.filters
        hits = [_hit(index, c) for c in request.candidates]
        kept = [
            not filters.active or filters.accepts(index.documents[h.chunk.doc_id]) for h in hits
        ]
        query = request.query_vector.reshape(-1)
        terms = self.lexicon.question(request.question)
        chosen = [h for h, keep in zip(hits, kept, strict=True) if keep]
        vectors = index.chunk_vectors([h.position for h in chosen])
        passages = score_passages(
            index, self.lexicon, chosen, query, terms, request.rescore, vectors
        )
        out: list[ScoredPassage] = []
        at = 0
        for keep in kept:
            if not keep:
                out.append(ScoredPassage(None, None))
                continue
            out.append(ScoredPassage(passages[at], vectors[at] if request.vectors else None))
            at += 1
        return tuple(out)

    def submit_score(self, request: ScoreRequest) -> Done[tuple[ScoredPassage, ...]]:
        """:meth:`score`, done now."""
        return Done(self.score(request))

    def document_text(self, generation: int, doc_id: str) -> str:
        """The text of a document this shard holds."""
        self._check(generation)
        return self.index.documents[doc_id].text


def _hit(index: Index, candidate: Candidate) -> Hit:
    c = candidate
    return Hit(
        chunk=index.chunks[c.position],
        score=c.score,
        dense_score=c.dense_score,
        bm25_score=c.bm25_score,
        dense_rank=c.dense_rank,
        bm25_rank=c.bm25_rank,
        position=c.position,
    )
