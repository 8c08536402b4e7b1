"""Hybrid search over one loaded index: dense and BM25 retrievers, joined by rank fusion.

One component per job, the way Haystack keeps its retrievers and its ``DocumentJoiner``
apart: :class:`DenseRetriever` ranks chunks by cosine similarity (FAISS),
:class:`BM25Retriever` by BM25, and :class:`RRFJoiner` fuses the two rankings by
reciprocal rank. :class:`HybridSearch` runs them for one query.

Example (needs a built index and the embedding model, so not run as a doctest)::

    search = HybridSearch(index, embedder)
    hits = search.search("How many people has Mexico extradited?", k=3)
    [(hit.chunk.chunk_id, hit.dense_rank, hit.bm25_rank) for hit in hits]
    # -> [('002_b8ec4b7f77a3a021#1', 1, 2), ('002_b8ec4b7f77a3a021#2', 2, 1), ...]
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Hit
from indexer.embedding import Embedder, Vectors
from indexer.index import Index
from indexer.terms import BM25_B, BM25_K1, Keys, SegmentTerms, query_keys
from indexer.vectors import Deletions, search

SearchMode = Literal["dense", "bm25", "hybrid"]
RRF_K = 60
# From this many chunk positions, hybrid search runs its dense and BM25 halves side by side:
# at 50k each half takes a few milliseconds (eval/VECTOR_INDEX.md), and a thread hand-over
# about 0.1 ms. Threads for that, across concurrent requests: one per core, at most 4.
CONCURRENT_FROM = 50_000
DENSE_THREADS = min(4, os.cpu_count() or 1)


class ChunkLookup(Protocol):
    """Chunks by position (a list, or :class:`indexer.index.Chunks`)."""

    def __getitem__(self, position: int, /) -> Chunk: ...


class Ranked(NamedTuple):
    """One chunk a retriever found: its position in ``Index.chunks`` and its score."""

    position: int
    score: float


def _best(index: Index, found: list[tuple[float, int]], k: int) -> list[Ranked]:
    """The ``k`` best (score, position) pairs; ties go to the lower (document id, chunk
    index), so results do not depend on how the corpus is split into segments."""
    found.sort(key=lambda pair: -pair[0])
    if len(found) > k:  # keep every tie of the k-th: which of them make the cut is decided below
        cut = found[k - 1][0]
        found = [pair for pair in found if pair[0] >= cut]
    # Only ties need the key, but computing it for the few kept is cheaper than finding them.
    found.sort(key=lambda pair: (-pair[0], *index.sort_key(pair[1])))
    return [Ranked(position, score) for score, position in found[:k]]


class DenseRetriever:
    """The chunks whose vectors are most similar to the query vector (cosine, by FAISS).

    Each segment is searched for its own top ``k``; the best ``k`` of those are the
    corpus's.
    """

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query_vector: Vectors, k: int) -> list[Ranked]:
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
    scores the same whichever segment holds it.
    """

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query: str, k: int) -> list[Ranked]:
        """Top ``k`` chunks, best first."""
        keys = query_keys(query)
        stats = self.index.stats
        keys = keys[stats.frequencies(keys) > 0]  # terms no live chunk holds match nothing
        if k <= 0 or not len(keys):
            return []
        idf = stats.idf(keys).astype(np.float32)
        average = np.float32(stats.average_length)
        found: list[tuple[float, int]] = []
        for at, segment in enumerate(self.index.segments):
            scores = _segment_scores(segment.terms, keys, idf, average)
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


def _segment_scores(
    terms: SegmentTerms, keys: Keys, idf: npt.NDArray[np.float32], average: np.float32
) -> npt.NDArray[np.float32] | None:
    """BM25 of every chunk row of one segment (None when it holds no query term).

    Terms are added in query order, so a chunk's score is the same float in any segment.
    """
    scores: npt.NDArray[np.float32] | None = None
    offsets = terms.postings_offsets
    for number, weight in zip(terms.numbers(keys), idf, strict=True):
        if number < 0:
            continue
        lo, hi = int(offsets[number]), int(offsets[number + 1])
        rows = terms.postings_rows[lo:hi]
        tf = terms.postings_tf[lo:hi].astype(np.float32)
        length = terms.chunk_length[rows].astype(np.float32)
        norm = np.float32(BM25_K1) * (
            np.float32(1 - BM25_B) + np.float32(BM25_B) * length / average
        )
        if scores is None:
            scores = np.zeros(terms.chunks, dtype=np.float32)
        scores[rows] += weight * tf / (tf + norm)
    return scores


class RRFJoiner:
    """Joins a dense and a BM25 ranking by reciprocal rank fusion.

    A chunk scores ``sum(1 / (k + rank))`` over the rankings it appears in; ties go to the
    lower (document id, chunk index), so the order does not depend on the retrievers' order.

    ``order`` gives a position's (document id, chunk index) and ``fetch`` reads many chunks
    at once; an index passes both (:meth:`Index.sort_key`, :meth:`Chunks.many`), so fusing
    reads no text and only the chunks kept are read, together. By default both come from
    ``chunks``.
    """

    def __init__(
        self,
        chunks: ChunkLookup,
        k: int = RRF_K,
        order: Callable[[int], tuple[str, int]] | None = None,
        fetch: Callable[[Sequence[int]], list[Chunk]] | None = None,
    ) -> None:
        if k <= 0:
            raise ValueError("k must be greater than 0")
        self.chunks = chunks
        self.k = k
        self._order = order or self._chunk_order
        self._fetch = fetch or (lambda positions: [chunks[p] for p in positions])

    def _chunk_order(self, position: int) -> tuple[str, int]:
        chunk = self.chunks[position]
        return chunk.doc_id, chunk.index

    def join(
        self, dense: Sequence[Ranked], lexical: Sequence[Ranked], limit: int | None = None
    ) -> list[Hit]:
        """Every chunk of either ranking (the best ``limit`` of them), best fused score first."""
        fused = fused_scores(dense, lexical, self.k)
        ranked = sorted(fused, key=lambda p: (-fused[p], *self._order(p)))[:limit]
        dense_at = {p: (rank, s) for rank, (p, s) in enumerate(dense, start=1)}
        lexical_at = {p: (rank, s) for rank, (p, s) in enumerate(lexical, start=1)}
        return [
            Hit(
                chunk=chunk,
                score=fused[position],
                dense_score=dense_at[position][1] if position in dense_at else None,
                bm25_score=lexical_at[position][1] if position in lexical_at else None,
                dense_rank=dense_at[position][0] if position in dense_at else None,
                bm25_rank=lexical_at[position][0] if position in lexical_at else None,
                position=position,
            )
            for position, chunk in zip(ranked, self._fetch(ranked), strict=True)
        ]


def fused_scores(
    dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]], k: float = RRF_K
) -> dict[int, float]:
    """Each position's reciprocal-rank-fusion score, ``sum(1 / (k + rank))``, in the order
    first seen (dense first)."""
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, (position, _) in enumerate(ranking, start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (k + rank)
    return fused


class HybridSearch:
    """Dense, BM25 or hybrid search over one loaded index.

    ``embedder`` encodes queries given as text only; without one, pass ``query_vector``.
    """

    def __init__(self, index: Index, embedder: Embedder | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.dense = DenseRetriever(index)
        self.bm25 = BM25Retriever(index)
        self.joiner = RRFJoiner(index.chunks, order=index.sort_key, fetch=index.chunks.many)

    def encode_query(self, query: str) -> Vectors:
        """The query's vector, from the embedder this search was given."""
        if self.embedder is None:
            raise RuntimeError("this search was made without an embedder; dense search needs one")
        return self.embedder.encode_query(query)

    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        candidates: int = 50,
        query_vector: Vectors | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks; ``hybrid`` fuses the top ``candidates`` of each retriever."""
        if k <= 0:
            raise ValueError("k must be greater than 0")
        pool = max(k, candidates)
        dense: list[Ranked] = []
        lexical: list[Ranked] = []
        vector = None
        if mode in ("dense", "hybrid"):
            vector = query_vector if query_vector is not None else self.encode_query(query)
        if vector is not None and mode == "hybrid" and self.index.size >= CONCURRENT_FROM:
            # FAISS releases the GIL, so the dense search runs on another core while this
            # thread scores BM25; on a small index the hand-over would cost more than it saves.
            pending = _pool().submit(self.dense.search, vector, pool)
            lexical = self.bm25.search(query, pool)
            dense = pending.result()
        else:
            if vector is not None:
                dense = self.dense.search(vector, pool)
            if mode in ("bm25", "hybrid"):
                lexical = self.bm25.search(query, pool)
        return self.joiner.join(dense, lexical, limit=k)


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
