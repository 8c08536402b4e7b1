"""Reciprocal rank fusion of the dense and BM25 rankings (the one :func:`fuse` every path
calls), on hand-made rankings."""

from __future__ import annotations

import pytest

from citeqa.types import Chunk, Hit
from service.retrieval.hybrid import RRF_K, RankedChunk, fuse

CHUNKS = [Chunk(doc_id, 0, 0, 10, f"text of {doc_id}") for doc_id in ("a", "b", "c", "d")]
A, B, C, D = range(4)


def ranked(position: int, score: float) -> RankedChunk:
    return RankedChunk(position, score, CHUNKS[position].doc_id, CHUNKS[position].index)


def fuse_hits(dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> list[Hit]:
    """Fuse two rankings of chunk positions (into CHUNKS) with their scores, as hits."""
    fused = fuse([ranked(*r) for r in dense], [ranked(*r) for r in lexical])
    return [f.hit(CHUNKS[f.position]) for f in fused]


def _rrf(*ranks: int) -> float:
    return sum(1.0 / (RRF_K + rank) for rank in ranks)


def test_a_chunk_both_rankings_found_comes_first() -> None:
    hits = fuse_hits(dense=[(A, 0.9), (B, 0.8)], lexical=[(C, 12.0), (B, 7.5)])

    assert [h.chunk.doc_id for h in hits] == ["b", "a", "c"]
    assert hits[0].score == pytest.approx(_rrf(2, 2))
    assert hits[1].score == hits[2].score == pytest.approx(_rrf(1))


def test_each_hit_keeps_its_ranks_and_scores_from_both_sides() -> None:
    hits = {h.chunk.doc_id: h for h in fuse_hits([(A, 0.9), (B, 0.8)], [(C, 12.0), (B, 7.5)])}

    b = hits["b"]
    assert (b.dense_rank, b.dense_score, b.bm25_rank, b.bm25_score) == (2, 0.8, 2, 7.5)
    a = hits["a"]
    assert (a.dense_rank, a.dense_score, a.bm25_rank, a.bm25_score) == (1, 0.9, None, None)
    c = hits["c"]
    assert (c.dense_rank, c.dense_score, c.bm25_rank, c.bm25_score) == (None, None, 1, 12.0)


def test_one_ranking_keeps_its_order() -> None:
    hits = fuse_hits(dense=[], lexical=[(D, 3.0), (A, 2.0), (C, 1.0)])

    assert [h.chunk.doc_id for h in hits] == ["d", "a", "c"]
    assert [h.score for h in hits] == pytest.approx([_rrf(1), _rrf(2), _rrf(3)])
    assert all(h.dense_rank is None for h in hits)


def test_equal_scores_are_ordered_by_document_then_chunk() -> None:
    # Rank fusion ignores the raw scores, so ties are common; their order must not depend on
    # which ranking was read first.
    hits = fuse_hits(dense=[(D, 0.5)], lexical=[(B, 0.5)])
    assert [h.chunk.doc_id for h in hits] == ["b", "d"]


def test_nothing_found_is_no_hits() -> None:
    assert fuse_hits([], []) == []


def test_a_hit_knows_its_chunk_position() -> None:
    hits = fuse_hits(dense=[(C, 0.9)], lexical=[(A, 2.0)])
    assert [h.position for h in hits] == [A, C]


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        fuse([], [], k=0)
