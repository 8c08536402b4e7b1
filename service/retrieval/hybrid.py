"""Hybrid search: dense and BM25 rankings of chunks, and the one reciprocal rank fusion.

One component per job, the way Haystack keeps its retrievers and its ``DocumentJoiner``
apart: :class:`DenseRetriever` ranks an index's chunks by cosine similarity (FAISS),
:class:`BM25Retriever` by BM25 (scored where the postings live,
:meth:`indexer.terms.SegmentTerms.bm25`), and :func:`fuse` joins two rankings by
reciprocal rank. Every path that ranks or fuses uses these, one process or the shards of
:mod:`service.retrieval.shard`, whose lists :func:`merge_ranked` merges with the tie-break
of a single ranking.

Example (needs a built index and the embedding model, so not run as a doctest)::

    dense, lexical = ranked_lists(index, question, embedder.encode_query(question), k=3)
    [(f.position, f.dense_rank, f.bm25_rank) for f in fuse(dense, lexical)]
    # -> [(17, 1, 2), (18, 2, 1), ...]
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import faiss
import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Hit
from indexer.embedding import Vectors
from indexer.index import Index
from indexer.vectors import Deletions, search

SearchMode = Literal["dense", "bm25", "hybrid"]
RRF_K = 60
# From this many chunk positions, hybrid search runs its dense and BM25 halves side by side:
# at 50k each half takes a few milliseconds (eval/VECTOR_INDEX.md), and a thread hand-over
# about 0.1 ms. Threads for that, across concurrent requests: one per core, at most 4.
CONCURRENT_FROM = 50_000
DENSE_THREADS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class RankedChunk:
    """One chunk a retriever found, with the key that breaks score ties."""

    position: int  # in ``Index.chunks``: the same in every process that loads the generation
    score: float
    doc_id: str
    index: int  # the chunk's index in its document

    @property
    def order(self) -> tuple[float, str, int]:
        """Best first; ties go to the lower (document id, chunk index), so a ranking does
        not depend on how the corpus is split into segments or shards."""
        return (-self.score, self.doc_id, self.index)


@dataclass(frozen=True)
class FusedChunk:
    """A chunk position after fusion, with each retriever's score and rank: a
    :class:`~citeqa.types.Hit` before its chunk is read."""

    position: int
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None

    def hit(self, chunk: Chunk) -> Hit:
        """This fused chunk as a hit on ``chunk`` (the chunk at its position)."""
        return Hit(
            chunk=chunk,
            score=self.score,
            dense_score=self.dense_score,
            bm25_score=self.bm25_score,
            dense_rank=self.dense_rank,
            bm25_rank=self.bm25_rank,
            position=self.position,
        )


def merge_ranked(lists: Iterable[Sequence[RankedChunk]], k: int) -> list[RankedChunk]:
    """The ``k`` best of several rankings by one retriever (of segments, or of shards),
    each in :attr:`RankedChunk.order` already."""
    rankings = list(lists)
    if len(rankings) == 1:  # one shard's list is its order: nothing to merge
        return list(rankings[0][:k])
    merged = [ranked for found in rankings for ranked in found]
    merged.sort(key=lambda r: r.order)
    return merged[:k]


def fuse(
    dense: Sequence[RankedChunk], lexical: Sequence[RankedChunk], k: float = RRF_K
) -> list[FusedChunk]:
    """Reciprocal rank fusion: a chunk scores ``sum(1 / (k + rank))`` over the rankings it
    appears in; best first, ties going to the lower (document id, chunk index)."""
    if k <= 0:
        raise ValueError("k must be greater than 0")
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, ranked in enumerate(ranking, start=1):
            fused[ranked.position] = fused.get(ranked.position, 0.0) + 1.0 / (k + rank)
    dense_at = {r.position: (rank, r.score) for rank, r in enumerate(dense, start=1)}
    lexical_at = {r.position: (rank, r.score) for rank, r in enumerate(lexical, start=1)}
    ties = {r.position: (r.doc_id, r.index) for r in (*dense, *lexical)}
    out = []
    for position in sorted(fused, key=lambda p: (-fused[p], *ties[p])):
        in_dense, in_lexical = dense_at.get(position), lexical_at.get(position)
        out.append(
            FusedChunk(
                position=position,
                score=fused[position],
                dense_score=in_dense[1] if in_dense else None,
                bm25_score=in_lexical[1] if in_lexical else None,
                dense_rank=in_dense[0] if in_dense else None,
                bm25_rank=in_lexical[0] if in_lexical else None,
            )
        )
    return out


def _best(index: Index, found: list[tuple[float, int]], k: int) -> list[RankedChunk]:
    """The ``k`` best (score, position) pairs of an index's segments, in
    :attr:`RankedChunk.order`."""
    found.sort(key=lambda pair: -pair[0])
    if len(found) > k:  # keep every tie of the k-th: which of them make the cut is decided below
        cut = found[k - 1][0]
        found = [pair for pair in found if pair[0] >= cut]
    # Only ties need the key, but computing it for the few kept is cheaper than finding them.
    ranked = [RankedChunk(position, score, *index.sort_key(position)) for score, position in found]
    ranked.sort(key=lambda r: r.order)
    return ranked[:k]


class DenseRetriever:
    """The chunks whose vectors are most similar to the query vector (cosine, by FAISS).

    Each segment is searched for its own top ``k``; the best ``k`` of those are the
    corpus's.
    """

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query_vector: Vectors, k: int) -> list[RankedChunk]:
        """Top ``k`` chunks, best first."""
        if k <= 0:
            return []
        query = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
        found: list[tuple[float, int]] = []
        for at, segment in enumerate(self.index.segments):
            if not segment.chunks:
                continue
            scores, rows = _with_ties(segment.vector_index, query, k, self.index.deleted[at])
            base = int(self.index.chunk_base[at])
            found += [(float(s), base + int(r)) for s, r in zip(scores, rows, strict=True)]
        return _best(self.index, found, k)


def _with_ties(
    vector_index: Any, query: Vectors, k: int, deleted: Deletions | None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """A segment's top ``k`` rows and every row tied with the k-th.

    FAISS picks arbitrarily among rows tied at the cut (copies of one text score the same),
    so the rows it keeps would depend on how the corpus is split into segments; with every
    tie returned, :func:`_best` breaks them the same way for any split. Asking one row more
    than ``k`` shows whether a tie crosses the cut, which is rare, and costs nothing.
    """
    wanted = k + 1
    while True:
        scores, rows = search(vector_index, query, wanted, deleted)
        if len(rows) < wanted or scores[-1] < scores[k - 1]:
            return scores, rows
        wanted *= 2


class BM25Retriever:
    """The chunks that match the query's words best by BM25 (positive scores only).

    Scores use the corpus-wide statistics (:class:`indexer.terms.CorpusStats`), so a chunk
    scores the same whichever segment or shard holds it.
    """

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query: str, k: int) -> list[RankedChunk]:
        """Top ``k`` chunks, best first."""
        keys, idf = self.index.stats.bm25_weights(query)
        if k <= 0 or not len(keys):
            return []
        average = np.float32(self.index.stats.average_length)
        found: list[tuple[float, int]] = []
        for at, segment in enumerate(self.index.segments):
            scores = segment.terms.bm25(keys, idf, average)
            if scores is None:
                continue
            deleted = self.index.deleted[at]
            if deleted is not None:
                scores[deleted.mask] = 0
            rows = np.flatnonzero(scores > 0)
            if len(rows) > k:
                # Keep every row tied with the k-th score: the final order breaks ties.
                kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
                rows = rows[scores[rows] >= kth]
            base = int(self.index.chunk_base[at])
            found += [(float(scores[r]), base + int(r)) for r in rows]
        return _best(self.index, found, k)


def ranked_lists(
    index: Index, question: str, query_vector: Vectors | None, k: int, mode: SearchMode = "hybrid"
) -> tuple[list[RankedChunk], list[RankedChunk]]:
    """The index's dense and BM25 top ``k`` for the question; a retriever that ``mode``
    leaves out gives an empty list. Dense search needs ``query_vector``."""
    if mode in ("dense", "hybrid") and query_vector is None:
        raise ValueError("dense and hybrid search need a query vector")
    dense: list[RankedChunk] = []
    lexical: list[RankedChunk] = []
    if query_vector is not None and mode == "hybrid" and index.size >= CONCURRENT_FROM:
        # FAISS releases the GIL, so the dense search runs on another core while this
        # thread scores BM25; on a small index the hand-over would cost more than it saves.
        pending = _pool().submit(DenseRetriever(index).search, query_vector, k)
        lexical = BM25Retriever(index).search(question, k)
        return pending.result(), lexical
    if query_vector is not None and mode in ("dense", "hybrid"):
        dense = DenseRetriever(index).search(query_vector, k)
    if mode in ("bm25", "hybrid"):
        lexical = BM25Retriever(index).search(question, k)
    return dense, lexical


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads for dense searches that run beside BM25, shared by every index and request."""
    return ThreadPoolExecutor(
        max_workers=DENSE_THREADS, thread_name_prefix="dense", initializer=_one_faiss_thread
    )


def _one_faiss_thread() -> None:
    # OpenMP's thread count is per thread: a new thread would otherwise start FAISS's
    # parallel regions with every core, competing with the request threads.
    faiss.omp_set_num_threads(1)
