"""Reciprocal rank fusion, without an index."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from citeqa.types import Chunk
from service.retrieval.hybrid import RRF_K, Ranked, RRFJoiner

CHUNKS = [Chunk(doc_id, index, 0, 1, "x") for doc_id, index in (("a", 0), ("a", 1), ("b", 0))]


def test_a_chunk_in_both_rankings_sums_its_reciprocal_ranks() -> None:
    hits = RRFJoiner(CHUNKS).join([Ranked(2, 0.9), Ranked(0, 0.8)], [Ranked(0, 7.5)])
    assert [h.chunk.chunk_id for h in hits] == ["a#0", "b#0"]
    first, second = hits
    assert first.score == 1.0 / (RRF_K + 2) + 1.0 / (RRF_K + 1)
    assert (first.dense_rank, first.dense_score, first.bm25_rank, first.bm25_score) == (
        2,
        0.8,
        1,
        7.5,
    )
    assert (second.dense_rank, second.bm25_rank, second.bm25_score) == (1, None, None)


def test_equal_scores_fall_back_to_document_order() -> None:
    hits = RRFJoiner(CHUNKS).join([Ranked(2, 0.5)], [Ranked(1, 3.0)])
    assert [h.chunk.chunk_id for h in hits] == ["a#1", "b#0"]


def test_nothing_found_joins_to_nothing() -> None:
    assert RRFJoiner(CHUNKS).join([], []) == []


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        RRFJoiner(CHUNKS, k=0)


def test_a_limit_keeps_the_best_and_reads_only_their_chunks() -> None:
    read: list[int] = []

    def fetch(positions: Sequence[int]) -> list[Chunk]:
        read.extend(positions)
        return [CHUNKS[p] for p in positions]

    dense, lexical = [Ranked(2, 0.9), Ranked(0, 0.8)], [Ranked(1, 7.5), Ranked(0, 2.0)]
    everything = RRFJoiner(CHUNKS).join(dense, lexical)
    ordered = RRFJoiner(CHUNKS, order=lambda p: (CHUNKS[p].doc_id, CHUNKS[p].index), fetch=fetch)
    assert ordered.join(dense, lexical, limit=2) == everything[:2]
    assert sorted(read) == sorted(h.position for h in everything[:2])
