"""Overlapping chunks of one document that both rank become one passage."""

from __future__ import annotations

from citeqa.types import Chunk, Hit, Passage, ScoredSentence, Span
from service.retrieval.overlap import join_overlaps

TEXT = "Mexico sent 37 inmates. The total is 92. Officials said more will follow. Another day."
DOCUMENTS = {"a": TEXT, "b": TEXT}


def _sentence(row: int, doc_id: str, start: int, end: int, score: float) -> ScoredSentence:
    return ScoredSentence(row, doc_id, start, end, DOCUMENTS[doc_id][start:end], score, 0.0, score)


def _passage(doc_id: str, index: int, start: int, end: int, score: float) -> Passage:
    sentences = [
        _sentence(row, doc_id, s, e, score - row / 100)
        for row, (s, e) in enumerate([(0, 23), (24, 40), (41, 73), (74, 86)])
        if s < end and e > start
    ]
    chunk = Chunk(
        doc_id, index, start, end, DOCUMENTS[doc_id][start:end],
        tuple(Span(s.start, s.end) for s in sentences),
    )  # fmt: skip
    return Passage(Hit(chunk, score), score, tuple(sentences))


def _join(passages: list[Passage], top_k: int = 5) -> list[Passage]:
    return join_overlaps(passages, top_k, DOCUMENTS.__getitem__)


def test_overlapping_chunks_become_one_exact_slice_ranked_where_the_better_was() -> None:
    first, second = _passage("a", 1, 24, 73, 0.9), _passage("a", 0, 0, 40, 0.5)
    other = _passage("b", 0, 0, 40, 0.7)

    joined = _join([first, other, second])

    assert [p.chunk.doc_id for p in joined] == ["a", "b"]
    chunk = joined[0].chunk
    assert (chunk.char_start, chunk.char_end) == (0, 73)
    assert chunk.text == TEXT[chunk.char_start : chunk.char_end]
    assert joined[0].score == 0.9 and joined[0].chunk.index == 1
    # Each sentence once, best first; the chunk's sentence spans are the union, in order.
    assert [s.row for s in joined[0].sentences] == [1, 2, 0]
    assert [s.start for s in chunk.sentences] == [0, 24, 41]


def test_chunks_that_only_touch_or_come_from_other_documents_stay_apart() -> None:
    touching = [_passage("a", 0, 0, 40, 0.9), _passage("a", 1, 41, 86, 0.8)]
    assert len(_join(touching)) == 2
    same_span_other_document = [_passage("a", 0, 0, 40, 0.9), _passage("b", 0, 0, 40, 0.8)]
    assert len(_join(same_span_other_document)) == 2


def test_a_freed_slot_goes_to_the_next_passage() -> None:
    passages = [
        _passage("a", 0, 0, 40, 0.9),
        _passage("a", 1, 24, 73, 0.8),
        _passage("b", 0, 0, 23, 0.7),
        _passage("b", 1, 41, 86, 0.6),
    ]
    joined = _join(passages, top_k=2)
    assert [(p.chunk.doc_id, p.chunk.char_start, p.chunk.char_end) for p in joined] == [
        ("a", 0, 73),
        ("b", 0, 23),
    ]


def test_a_chain_of_overlaps_folds_into_the_first() -> None:
    passages = [
        _passage("a", 1, 24, 73, 0.9),
        _passage("a", 0, 0, 40, 0.8),
        _passage("a", 2, 41, 86, 0.7),
    ]
    joined = _join(passages)
    assert len(joined) == 1
    assert (joined[0].chunk.char_start, joined[0].chunk.char_end) == (0, 86)
