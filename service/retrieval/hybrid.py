"""Hybrid search over one loaded index: dense and BM25 retrievers, joined by rank fusion.

One component per job, the way Haystack keeps its retrievers and its ``DocumentJoiner``
apart: :class:`DenseRetriever` ranks chunks by cosine similarity (FAISS),
:class:`BM25Retriever` by BM25, and :class:`RRFJoiner` fuses the two rankings by
reciprocal rank. :class:`HybridSearch` runs them for one query.

Example:
    >>> search = HybridSearch(index, embedder)  # doctest: +SKIP
    >>> hits = search.search("How many people has Mexico extradited?", k=3)  # doctest: +SKIP
    >>> [(hit.chunk.chunk_id, hit.dense_rank, hit.bm25_rank) for hit in hits]  # doctest: +SKIP
    [('002_b8ec4b7f77a3a021#1', 1, 2), ('002_b8ec4b7f77a3a021#2', 2, 1), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from citeqa.types import Chunk, Hit
from indexer.embedding import Embedder, Vectors
from indexer.index import Index

SearchMode = Literal["dense", "bm25", "hybrid"]
RRF_K = 60


class Ranked(NamedTuple):
    """One chunk a retriever found: its position in ``Index.chunks`` and its score."""

    position: int
    score: float


class DenseRetriever:
    """The chunks whose vectors are most similar to the query vector (cosine, by FAISS)."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query_vector: Vectors, k: int) -> list[Ranked]:
        """Top ``k`` chunks, best first."""
        size = len(self.index.chunks)
        if not size or k <= 0:
            return []
        scores, ids = self.index.vector_index.search(query_vector.reshape(1, -1), min(k, size))
        return [Ranked(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


class BM25Retriever:
    """The chunks that match the query's words best by BM25 (positive scores only)."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query: str, k: int) -> list[Ranked]:
        """Top ``k`` chunks, best first."""
        ids, scores = self.index.lexical_index.search(query, k)
        return [Ranked(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]


class RRFJoiner:
    """Joins a dense and a BM25 ranking by reciprocal rank fusion.

    A chunk scores ``sum(1 / (k + rank))`` over the rankings it appears in; ties go to the
    lower (document id, chunk index), so the order does not depend on the retrievers' order.
    """

    def __init__(self, chunks: Sequence[Chunk], k: int = RRF_K) -> None:
        if k <= 0:
            raise ValueError("k must be greater than 0")
        self.chunks = chunks
        self.k = k

    def join(self, dense: Sequence[Ranked], lexical: Sequence[Ranked]) -> list[Hit]:
        """Every chunk of either ranking, best fused score first."""
        fused: dict[int, float] = {}
        for ranking in (dense, lexical):
            for rank, (position, _) in enumerate(ranking, start=1):
                fused[position] = fused.get(position, 0.0) + 1.0 / (self.k + rank)
        dense_at = {p: (rank, s) for rank, (p, s) in enumerate(dense, start=1)}
        lexical_at = {p: (rank, s) for rank, (p, s) in enumerate(lexical, start=1)}
        hits = [
            Hit(
                chunk=self.chunks[position],
                score=score,
                dense_score=dense_at[position][1] if position in dense_at else None,
                bm25_score=lexical_at[position][1] if position in lexical_at else None,
                dense_rank=dense_at[position][0] if position in dense_at else None,
                bm25_rank=lexical_at[position][0] if position in lexical_at else None,
            )
            for position, score in fused.items()
        ]
        hits.sort(key=lambda h: (-h.score, h.chunk.doc_id, h.chunk.index))
        return hits


class HybridSearch:
    """Dense, BM25 or hybrid search over one loaded index.

    ``embedder`` encodes queries given as text only; without one, pass ``query_vector``.
    """

    def __init__(self, index: Index, embedder: Embedder | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.dense = DenseRetriever(index)
        self.bm25 = BM25Retriever(index)
        self.joiner = RRFJoiner(index.chunks)

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
        if mode in ("dense", "hybrid"):
            vector = query_vector if query_vector is not None else self.encode_query(query)
            dense = self.dense.search(vector, pool)
        if mode in ("bm25", "hybrid"):
            lexical = self.bm25.search(query, pool)
        return self.joiner.join(dense, lexical)[:k]
