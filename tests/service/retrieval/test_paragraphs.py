"""Chunks of one paragraph that both rank become one passage."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from citeqa.types import Chunk, Hit, Passage, ScoredSentence, Span
from service.retrieval.dedup import Paragraphs, distinct_paragraphs, join_paragraphs

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
        doc_id,
        index,
        start,
        end,
        DOCUMENTS[doc_id][start:end],
        tuple(Span(s.start, s.end) for s in sentences),
    )
    return Passage(Hit(chunk, score), score, tuple(sentences))


def _join(passages: list[Passage], top_k: int = 5) -> list[Passage]:
    return join_paragraphs(passages, top_k, DOCUMENTS.__getitem__)


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


def test_chunks_of_other_documents_stay_apart() -> None:
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


# Hand-made articles: paragraphs split by blank lines, and one of a line (as news sites write).
ARTICLE = (
    "Ferry strike ends\n"
    "\n"
    "The ferry strike ended on Monday after 12 days. Crews returned to work at dawn.\n"
    "\n"
    "Union leaders said the deal raises pay by 4 percent. The port reopened at noon.\n"
    "Cargo ships waited offshore for a week. Prices rose in the meantime."
)
LONG = " ".join(f"Sentence number {n} of one long paragraph." for n in range(12))


def _chunk_passage(
    doc_id: str, text: str, index: int, start: int, end: int, score: float
) -> Passage:
    chunk = Chunk(doc_id, index, start, end, text[start:end], (Span(start, end),))
    sentence = ScoredSentence(index, doc_id, start, end, text[start:end], score, 0.0, score)
    return Passage(Hit(chunk, score), score, (sentence,))


def _span(text: str, first: str, last: str) -> tuple[int, int]:
    start = text.index(first)
    return start, text.index(last) + len(last)


def test_paragraphs_end_at_blank_lines_and_at_line_breaks_after_a_sentence() -> None:
    found = Paragraphs.of(ARTICLE + "\nA wrapped line without its full stop\ncontinues here.")
    texts = [found.text[s:e] for s, e in zip(found.starts, found.ends, strict=True)]
    assert texts == [
        "Ferry strike ends",
        "The ferry strike ended on Monday after 12 days. Crews returned to work at dawn.",
        "Union leaders said the deal raises pay by 4 percent. The port reopened at noon.",
        "Cargo ships waited offshore for a week. Prices rose in the meantime.",
        "A wrapped line without its full stop\ncontinues here.",
    ]


def test_two_chunks_of_one_paragraph_that_share_no_text_become_one_passage() -> None:
    # The boundary sentence was longer than the overlap, so the overlap is empty.
    first = _span(ARTICLE, "The ferry", "12 days.")
    second = _span(ARTICLE, "Crews", "at dawn.")
    other = _span(ARTICLE, "Union", "at noon.")
    passages = [
        _chunk_passage("art", ARTICLE, 2, *second, 0.9),
        _chunk_passage("art", ARTICLE, 3, *other, 0.8),
        _chunk_passage("art", ARTICLE, 1, *first, 0.7),
    ]

    joined = join_paragraphs(passages, 5, {"art": ARTICLE}.__getitem__)

    assert len(joined) == 2
    chunk = joined[0].chunk
    assert (chunk.char_start, chunk.char_end) == (first[0], second[1])
    assert chunk.text == ARTICLE[chunk.char_start : chunk.char_end]
    assert joined[0].score == 0.9 and chunk.index == 2
    # The next paragraph, touching the first one's chunk across a blank line, stays apart.
    assert joined[1].chunk.text.startswith("Union")


def test_paragraphs_one_a_line_stay_apart() -> None:
    union = _span(ARTICLE, "Union", "at noon.")
    cargo = _span(ARTICLE, "Cargo", "meantime.")
    passages = [
        _chunk_passage("art", ARTICLE, 3, *union, 0.9),
        _chunk_passage("art", ARTICLE, 4, *cargo, 0.8),
    ]
    assert len(join_paragraphs(passages, 5, {"art": ARTICLE}.__getitem__)) == 2


def test_a_far_chunk_of_one_paragraph_gives_way_to_the_next_paragraph() -> None:
    documents = {"long": LONG, "b": TEXT}
    near = _span(LONG, "Sentence number 1 ", "number 2 of one long paragraph.")
    far = _span(LONG, "Sentence number 9 ", "number 10 of one long paragraph.")
    passages = [
        _chunk_passage("long", LONG, 0, *near, 0.9),
        _chunk_passage("long", LONG, 3, *far, 0.8),
        _chunk_passage("b", TEXT, 0, 0, 40, 0.7),
    ]

    kept = join_paragraphs(passages, 2, documents.__getitem__)

    assert [(p.chunk.doc_id, p.chunk.index) for p in kept] == [("long", 0), ("b", 0)]
    assert (kept[0].chunk.char_start, kept[0].chunk.char_end) == near
    # Still there for the extractor, but not a second source: the same document.
    assert [d.chunk.index for d in kept[0].duplicates] == [3]
    assert kept[0].also_reported_by == []


def test_distinct_paragraphs_counts_a_paragraph_once() -> None:
    union = _span(ARTICLE, "Union", "at noon.")
    cargo = _span(ARTICLE, "Cargo", "meantime.")
    crews = _span(ARTICLE, "Crews", "at dawn.")
    ferry = _span(ARTICLE, "The ferry", "12 days.")
    passages = [
        _chunk_passage("art", ARTICLE, 3, *union, 0.9),
        _chunk_passage("art", ARTICLE, 4, *cargo, 0.8),
        _chunk_passage("art", ARTICLE, 2, *crews, 0.7),
        _chunk_passage("art", ARTICLE, 1, *ferry, 0.6),
        _chunk_passage("b", TEXT, 0, 0, 40, 0.5),
    ]
    assert distinct_paragraphs(passages, {"art": ARTICLE, "b": TEXT}.__getitem__) == 4


WORDS = ["Ferry", "port", "strike", "ended", "crews", "pay", "92", "cargo"]
hand_sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(
    lambda words: " ".join(words) + "."
)
# Paragraphs of sentences, separated by a blank line or (one a line) a line break.
article = st.lists(
    st.tuples(st.lists(hand_sentence, min_size=1, max_size=4), st.sampled_from(["\n\n", "\n"])),
    min_size=1,
    max_size=4,
).map(lambda parts: "".join(" ".join(sentences) + gap for sentences, gap in parts).rstrip())


@st.composite
def ranked_chunks(draw: st.DrawFn) -> tuple[str, list[Passage]]:
    """An article and chunks of whole sentences (some overlapping), in a random rank order."""
    text = draw(article)
    ends = [m.end() for m in re.finditer(r"\.", text)]
    starts = [0, *(e + len(text[e:]) - len(text[e:].lstrip()) for e in ends[:-1])]
    spans = {
        (starts[i], ends[j])
        for i, j in draw(
            st.lists(
                st.tuples(st.integers(0, len(ends) - 1), st.integers(0, 2)), min_size=1, max_size=6
            )
        )
        for j in [min(i + j, len(ends) - 1)]
    }
    order = draw(st.permutations(sorted(spans)))
    return text, [
        _chunk_passage("art", text, n, start, end, 1.0 - n / 10)
        for n, (start, end) in enumerate(order)
    ]


@settings(max_examples=200, deadline=None)
@given(ranked_chunks(), st.integers(1, 6))
def test_kept_passages_are_exact_slices_of_distinct_paragraphs(
    drawn: tuple[str, list[Passage]], top_k: int
) -> None:
    text, passages = drawn
    kept = join_paragraphs(passages, top_k, {"art": text}.__getitem__)
    found = Paragraphs.of(text)

    assert 1 <= len(kept) <= top_k
    for i, passage in enumerate(kept):
        chunk = passage.chunk
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        for other in kept[:i]:
            assert not found.share(other.chunk, chunk)
    # Ranked where their best chunk was, and nothing ranked above a kept one is lost: each
    # chunk read is inside a kept passage or one of its duplicates.
    assert [p.score for p in kept] == sorted((p.score for p in kept), reverse=True)
    read = passages[: passages.index(next(p for p in passages if p.score == kept[-1].score)) + 1]
    for passage in read:
        assert any(
            _inside(passage.chunk, holder.chunk) for k in kept for holder in (k, *k.duplicates)
        )


def _inside(chunk: Chunk, holder: Chunk) -> bool:
    return holder.char_start <= chunk.char_start and chunk.char_end <= holder.char_end
