"""Near copies of a report in other sources, and the values they give in a candidate's place.

News is copied: wire stories, syndicated snippets, a corrected version of an article. Where
two sources carry the same sentence with one figure or name changed, the two values are a
disagreement on exactly the same thing, whether or not the reader read the copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from citeqa.types import Candidate, Passage, ScoredSentence
from indexer.index import Index
from service.answering.normalize import answer_key, same_answer

# Two sentences this alike (word-level) are one report, copied: where their values differ,
# the sources disagree on exactly the same thing.
NEAR_COPY_RATIO = 0.75
# A value read off a copy is as likely as the value it was aligned with, a shade less.
NEAR_COPY_DISCOUNT = 0.95
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Rival:
    """The value ``copy`` that another source's copy of ``original``'s sentence gives in its
    place."""

    original: Candidate
    copy: Candidate


def source_of(index: Index, doc_id: str) -> str:
    """One article is one source, however many documents hold its parts (same URL)."""
    document = index.documents.get(doc_id)
    return document.url if document is not None and document.url else doc_id


def _words(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def _aligned(sentence: str, start: int, end: int, copy: str) -> tuple[int, int] | None:
    """Where ``sentence[start:end]`` sits in a near-copy of the sentence (word alignment)."""
    words, copy_words = _words(sentence), _words(copy)
    inside = [i for i, (s, e) in enumerate(words) if s < end and start < e]
    if not inside:
        return None
    first, last = inside[0], inside[-1] + 1
    matcher = SequenceMatcher(
        None, [sentence[s:e] for s, e in words], [copy[s:e] for s, e in copy_words],
        autojunk=False,
    )  # fmt: skip
    if matcher.ratio() < NEAR_COPY_RATIO:
        return None
    mapped_first = mapped_last = None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= first < i2 or (i1 == i2 == first):
            mapped_first = j1 + (first - i1) if tag == "equal" else j1
        if i1 < last <= i2:
            mapped_last = j1 + (last - i1) if tag == "equal" else j2
    if mapped_first is None or mapped_last is None or mapped_last <= mapped_first:
        return None
    return copy_words[mapped_first][0], copy_words[mapped_last - 1][1]


def _sentences(passages: Iterable[Passage]) -> list[ScoredSentence]:
    """Every sentence of the passages, once."""
    found: dict[int, ScoredSentence] = {}
    for passage in passages:
        for sentence in passage.sentences:
            found.setdefault(sentence.row, sentence)
    return list(found.values())


def _near_copy(text: str, other: str) -> bool:
    """A cheap test first (most texts differ in length or letters), then a closer one."""
    matcher = SequenceMatcher(None, text, other)
    return (
        matcher.real_quick_ratio() >= NEAR_COPY_RATIO and matcher.quick_ratio() >= NEAR_COPY_RATIO
    )


def _copies(
    sentence: ScoredSentence, sentences: Sequence[ScoredSentence], index: Index
) -> list[ScoredSentence]:
    """Other sources' sentences that are near copies of ``sentence`` (and not equal to it)."""
    own_source = source_of(index, sentence.doc_id)
    return [
        other
        for other in sentences
        if other.text != sentence.text
        and source_of(index, other.doc_id) != own_source
        and _near_copy(sentence.text, other.text)
    ]


def _passage_copies(passage: Passage, passages: Sequence[Passage], index: Index) -> list[Passage]:
    """Other sources' passages that are near copies of ``passage`` (and not equal to it)."""
    own_source = source_of(index, passage.chunk.doc_id)
    return [
        other
        for other in passages
        if other.chunk.text != passage.chunk.text
        and source_of(index, other.chunk.doc_id) != own_source
        and _near_copy(passage.chunk.text, other.chunk.text)
    ]


def copy_rivals(
    candidates: Sequence[Candidate], passages: Sequence[Passage], index: Index
) -> list[Rival]:
    """The values that other sources' copies of each candidate's sentence give in its place.

    Every candidate is looked at, not only the answer: two copies of one report that differ
    in a date are a dispute even when the reader answered with a name they share. Where no
    sentence is a copy, the candidate's whole passage is aligned with other sources' copies
    of it: a sentence too short to align on its own ("Director. Justin Kurzel ;") or split
    differently around a changed date still sits in a copied passage.
    """
    # Near-identical passages that dedup folded into another are copies too.
    all_passages = [p for passage in passages for p in (passage, *passage.duplicates)]
    sentences = _sentences(all_passages)
    copies_of: dict[int, list[ScoredSentence]] = {}
    passage_copies_of: dict[str, list[Passage]] = {}
    rivals: list[Rival] = []
    seen: set[tuple[int, int, int]] = set()
    for candidate in candidates:
        sentence = candidate.sentence
        if (sentence.row, candidate.start, candidate.end) in seen:
            continue
        seen.add((sentence.row, candidate.start, candidate.end))
        if sentence.row not in copies_of:
            copies_of[sentence.row] = _copies(sentence, sentences, index)
        found = [
            rival
            for other in copies_of[sentence.row]
            if (rival := _rival(candidate, sentence.start, sentence.text, other.start,
                                other.text, [other])) is not None
        ]  # fmt: skip
        passage = _passage_of(candidate, all_passages)
        if not found and passage is not None:
            chunk = passage.chunk
            if chunk.chunk_id not in passage_copies_of:
                passage_copies_of[chunk.chunk_id] = _passage_copies(passage, all_passages, index)
            found = [
                rival
                for other in passage_copies_of[chunk.chunk_id]
                if (rival := _rival(candidate, chunk.char_start, chunk.text, other.chunk.char_start,
                                    other.chunk.text, other.sentences)) is not None
            ]  # fmt: skip
        rivals.extend(Rival(candidate, rival) for rival in found)
    return rivals


def _passage_of(candidate: Candidate, passages: Sequence[Passage]) -> Passage | None:
    return next(
        (
            p
            for p in passages
            if p.chunk.doc_id == candidate.doc_id
            and p.chunk.char_start <= candidate.start
            and candidate.end <= p.chunk.char_end
        ),
        None,
    )


def _rival(
    candidate: Candidate,
    own_start: int,
    own_text: str,
    copy_start: int,
    copy_text: str,
    copy_sentences: Sequence[ScoredSentence],
) -> Candidate | None:
    """The value a copy (``copy_text``, at ``copy_start`` of its document) gives in
    ``candidate``'s place in ``own_text`` (at ``own_start``), when it is another answer;
    it is cited with the sentence of ``copy_sentences`` that holds it."""
    span = _aligned(own_text, candidate.start - own_start, candidate.end - own_start, copy_text)
    if span is None:
        return None
    text = copy_text[span[0] : span[1]].strip(" ,.;:")
    key, own_key = answer_key(text), answer_key(candidate.text)
    # "Tim Buckley" for "Mortimer Tim Buckley" is one answer worded twice, not a dispute.
    if not key or same_answer(key, own_key) or same_answer(own_key, key):
        return None
    start = copy_start + copy_text.index(text, span[0])
    sentence = next(
        (s for s in copy_sentences if s.start <= start and start + len(text) <= s.end), None
    )
    if sentence is None:
        return None
    return Candidate(
        sentence.doc_id, start, start + len(text), text, "COPY",
        candidate.score * NEAR_COPY_DISCOUNT, sentence,
    )  # fmt: skip
