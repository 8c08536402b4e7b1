"""Merge equal answers across sources; keep every differing figure, each with its citation.

Equal answers (after normalisation) from several documents merge and gain confidence.
Different values found in *other sentences that answer the same question* are returned as
alternatives, each with the scope or time its sentence states it for (its qualifier). The
response says the sources disagree only when another source gives a different value for the
same scope: "92 to date" beside "29 in February" is context, not a dispute, and so is a
second figure in the answer's own article.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from citeqa.text import content_terms
from citeqa.types import Answer, Candidate, Citation, Passage, ScoredSentence
from indexer.index import Index
from service.answering.normalize import answer_key
from service.answering.qualifiers import Qualifier, qualifier_of, same_scope
from service.answering.question import QuestionType

AGREEMENT_BONUS = 0.05
MAX_AGREEMENT_BONUS = 0.15
# Figures and dates compete readily; for names, only a near-equal rival counts as a dispute.
ALTERNATIVE_RATIO = {"numeric": 0.6, "entity": 0.85}
ALTERNATIVE_RELEVANCE = 0.7
MAX_ALTERNATIVES = 4
_MAGNITUDES = {"hundred", "thousand", "million", "billion", "trillion", "percent", "dozen"}
# Two sentences this alike (word-level) are one report, copied: where their values differ,
# the sources disagree on exactly the same thing.
NEAR_COPY_RATIO = 0.75
# A value read off a copy is as likely as the answer it was aligned with, a shade less.
NEAR_COPY_DISCOUNT = 0.95
_WORD = re.compile(r"\S+")
# Two sentences that state values for one thing share at least this share of their words.
SAME_THING = 0.2


@dataclass(frozen=True)
class Aggregate:
    answer: Answer | None
    alternatives: list[Answer]
    sources_disagree: bool
    # What the abstention model reads about the answer: its best candidate, how many
    # documents agree on it, and the score of the best differing value.
    best: Candidate | None = None
    witnesses: int = 0
    runner_up: float = 0.0


@dataclass
class _Group:
    best: Candidate
    members: list[Candidate]
    # Only sources that answer with some confidence agree: a weak mention of a name in an
    # unrelated passage is not a second witness.
    floor: float = 0.0

    @property
    def documents(self) -> set[str]:
        return {m.doc_id for m in self.members if m.score >= self.floor}

    @property
    def score(self) -> float:
        witnesses = max(len(self.documents), 1)
        bonus = min(AGREEMENT_BONUS * (witnesses - 1), MAX_AGREEMENT_BONUS)
        return self.best.score + bonus


def citation_for(index: Index, candidate: Candidate) -> Citation:
    """The citation of a candidate answer: its span and sentence in its document."""
    sentence = candidate.sentence
    return Citation.of(
        index.documents[candidate.doc_id],
        doc_id=candidate.doc_id,
        char_start=candidate.start,
        char_end=candidate.end,
        sentence=sentence.text,
        sentence_start=sentence.start,
        sentence_end=sentence.end,
    )


def _contains(longer: str, shorter: str) -> bool:
    """ "marco rubio" contains "rubio" as whole words."""
    return f" {shorter} " in f" {longer} "


def _same_answer(longer: str, shorter: str) -> bool:
    """ "marco rubio" holds "rubio"; "37 inmates" holds "37", but "1 million" does not hold "1"."""
    if not _contains(longer, shorter):
        return False
    if not shorter.isdigit():
        return True
    numbers = [w for w in longer.split() if any(c.isdigit() for c in w) or w in _MAGNITUDES]
    return numbers == [shorter]


def _group(candidates: Sequence[Candidate], floor: float) -> list[_Group]:
    """Group equal answers; a short form ("Rubio") joins the longer one ("Marco Rubio")."""
    groups: dict[str, _Group] = {}
    for candidate in sorted(candidates, key=lambda c: -len(c.text)):
        key = answer_key(candidate.text)
        if not key:
            continue
        target = groups.get(key) or next(
            (g for k, g in groups.items() if _same_answer(k, key)), None
        )
        if target is None:
            groups[key] = _Group(candidate, [candidate], floor)
        else:
            target.members.append(candidate)
            if candidate.score > target.best.score and answer_key(target.best.text) == key:
                target.best = candidate
    for group in groups.values():
        strongest = max(group.members, key=lambda m: m.score)
        figures = [m for m in group.members if answer_key(m.text).isdigit() and m.score >= floor]
        if figures:
            # A figure reads best alone ("37", not "37 inmates"); the others still support it.
            group.best = max(figures, key=lambda m: m.score)
        if strongest.score > group.best.score:
            if group.best.score >= floor:
                # Keep the fuller wording but credit the strongest evidence for it.
                group.best = replace(group.best, score=strongest.score)
            else:  # a fuller wording the reader doubted is no citation for the answer
                group.best = strongest
    return sorted(groups.values(), key=lambda g: -g.score)


def qualifier_for(candidate: Candidate) -> Qualifier | None:
    """The scope or time phrase of the candidate's own sentence, nearest its value."""
    sentence = candidate.sentence
    return qualifier_of(
        sentence.text, candidate.start - sentence.start, candidate.end - sentence.start
    )


def _source(index: Index, doc_id: str) -> str:
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


def near_copy_rivals(best: Candidate, passages: Sequence[Passage], index: Index) -> list[Candidate]:
    """Values that other sources' copies of the answer's sentence give in its place.

    A copy of a report with one figure or name changed is exactly a disagreement on the same
    thing, whether or not the reader read that copy.
    """
    sentence = best.sentence
    own_source = _source(index, best.doc_id)
    rivals = []
    seen: set[int] = set()
    for passage in passages:
        if _source(index, passage.chunk.doc_id) == own_source:
            continue
        for other in passage.sentences:
            if other.row in seen or other.text == sentence.text:
                continue
            seen.add(other.row)
            if SequenceMatcher(None, sentence.text, other.text).quick_ratio() < NEAR_COPY_RATIO:
                continue
            span = _aligned(
                sentence.text, best.start - sentence.start, best.end - sentence.start, other.text
            )
            if span is None:
                continue
            text = other.text[span[0] : span[1]].strip(" ,.;:")
            if not text or answer_key(text) == answer_key(best.text):
                continue
            start = other.start + other.text.index(text, span[0])
            rivals.append(_copy_candidate(best, other, start, text))
    return rivals


def _copy_candidate(best: Candidate, sentence: ScoredSentence, start: int, text: str) -> Candidate:
    return Candidate(
        sentence.doc_id, start, start + len(text), text, "COPY",
        best.score * NEAR_COPY_DISCOUNT, sentence,
    )  # fmt: skip


def _answer(
    index: Index,
    group: _Group,
    question_type: QuestionType,
    disagrees: bool = False,
) -> Answer:
    supporting = []
    seen = {group.best.doc_id}
    for member in sorted(group.members, key=lambda m: -m.score):
        if member.doc_id not in seen and member.doc_id in group.documents:
            seen.add(member.doc_id)
            supporting.append(citation_for(index, member))
    return Answer(
        text=group.best.text,
        confidence=round(min(max(group.score, 0.0), 1.0), 4),
        citation=citation_for(index, group.best),
        answer_type="sentence" if group.best.label == "SENTENCE" else question_type.kind,
        supporting=tuple(supporting),
        qualifier=_qualifier_text(group.best),
        disagrees=disagrees,
    )


def _qualifier_text(candidate: Candidate) -> str | None:
    if candidate.label == "SENTENCE":
        return None
    qualifier = qualifier_for(candidate)
    return qualifier.text if qualifier is not None else None


def aggregate(
    index: Index,
    candidates: Sequence[Candidate],
    question_type: QuestionType,
    abstain_threshold: float,
    alternative_ratio: Mapping[str, float] = ALTERNATIVE_RATIO,
    passages: Sequence[Passage] = (),
    trusted: Callable[[Candidate, int, float], bool] | None = None,
) -> Aggregate:
    """Pick the answer, or abstain when even the best candidate is below the threshold.

    ``alternative_ratio`` is how close to the answer's score (``numeric`` for figures and
    dates, ``entity`` otherwise) a differing value must come to be listed as an
    alternative. ``passages`` are searched for other sources' copies of the answer's
    sentence that give another value. ``trusted`` says whether a candidate (with its number
    of witnesses, and the score of the answer it competes with) is one the service would
    answer with: only such values can disagree.
    """
    groups = _group(candidates, abstain_threshold)
    if not groups or groups[0].score < abstain_threshold:
        return Aggregate(None, [], False)
    top = groups[0]
    if top.best.label != "SENTENCE" and passages:
        rivals = near_copy_rivals(top.best, passages, index)
        if rivals:
            groups = _group([*candidates, *rivals], abstain_threshold)
            top = groups[0]
    answer = _answer(index, top, question_type)
    runner_up = groups[1].score if len(groups) > 1 else 0.0
    witnesses = len(top.documents)
    if top.best.label == "SENTENCE":
        return Aggregate(answer, [], False, top.best, witnesses, runner_up)
    alternatives = _alternatives(
        index, top, groups[1:], question_type, abstain_threshold, alternative_ratio, trusted
    )
    disagree = any(a.disagrees for a in alternatives)
    return Aggregate(answer, alternatives, disagree, top.best, witnesses, runner_up)


@dataclass(frozen=True)
class _Claim:
    """A value with the sources that state it and the scope they state it for."""

    group: _Group
    sources: frozenset[str]
    scope: Qualifier | None
    trusted: bool


def _shared_terms(first: ScoredSentence, second: ScoredSentence) -> float:
    """The share of the shorter sentence's content words that the other one has too."""
    one, two = set(content_terms(first.text)), set(content_terms(second.text))
    return len(one & two) / max(min(len(one), len(two)), 1)


def _conflict(first: _Claim, second: _Claim) -> bool:
    """Two sources, each stating its own value for the same scope, in sentences about the
    same thing (they share enough words beyond the question's)."""
    return (
        first.trusted
        and second.trusted
        and bool(first.sources - second.sources)
        and bool(second.sources - first.sources)
        and same_scope(first.scope, second.scope)
        and _shared_terms(first.group.best.sentence, second.group.best.sentence) >= SAME_THING
    )


def _claim(index: Index, group: _Group, question_type: QuestionType, trusted: bool) -> _Claim:
    scope = qualifier_for(group.best)
    if question_type.kind == "when" and scope is not None and scope.kind == "time":
        scope = None  # the value is itself a time: a year beside it is part of it
    # Every document that states the value, however weakly: one that states both values
    # (an answer quoted in its own headline, say) is context, not a second source.
    sources = frozenset(_source(index, m.doc_id) for m in group.members)
    return _Claim(group, sources, scope, trusted)


def _alternatives(
    index: Index,
    top: _Group,
    others: Sequence[_Group],
    question_type: QuestionType,
    floor: float,
    alternative_ratio: Mapping[str, float],
    trusted: Callable[[Candidate, int, float], bool] | None,
) -> list[Answer]:
    """Other values that answer the question, each marked as a disagreement or as context.

    A value disagrees when a source states it and another source states a different value
    (the answer, or another alternative) for the same scope, and both are values the
    service would answer with (``trusted``).
    """
    top_rows = {m.sentence.row for m in top.members}
    ratio = alternative_ratio[
        "numeric" if question_type.numeric or question_type.kind == "when" else "entity"
    ]
    kept: list[_Group] = []
    for group in others:
        # Another entity in the answer's own sentence is context, not a competing claim.
        if group.best.sentence.row in top_rows or group.best.label == "SENTENCE":
            continue
        copied = group.best.label == "COPY"
        if not copied and group.score < max(ratio * top.score, floor):
            continue
        if group.best.sentence.lexical < ALTERNATIVE_RELEVANCE * top.best.sentence.lexical:
            continue
        kept.append(group)
        if len(kept) == MAX_ALTERNATIVES:
            break
    claims = [
        _claim(
            index,
            g,
            question_type,
            trusted is None or g is top or trusted(g.best, len(g.documents), top.score),
        )
        for g in [top, *kept]
    ]
    answer_claim, *alternative_claims = claims
    answer_claim = replace(answer_claim, trusted=True)  # the answer stands, or it abstains
    claims = [answer_claim, *alternative_claims]
    return [
        _answer(index, claim.group, question_type,
                any(_conflict(claim, other) for other in claims if other is not claim))
        for claim in alternative_claims
    ]  # fmt: skip
