"""Merge equal answers across sources; keep every differing figure, each with its citation.

Equal answers merge, and gain confidence from each other source (an article is one source)
that states them about the same thing. Other values are alternatives, each with the scope
or time its sentence states it for (its qualifier). Sources disagree only when another
source gives a different value for the same scope: "92 to date" beside "29 in February" is
context, and so is a second figure in the answer's own article. A near copy of a sentence
with the value changed (``qualifiers.copy_rivals``) disputes exactly that value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from citeqa.text import answer_key, fuller_name, same_answer, term_set
from citeqa.types import Answer, Candidate, Citation, Passage
from indexer.index import Index
from service.answering.qualifiers import (
    Qualifier,
    copy_rivals,
    qualifier_for,
    same_scope,
    source_of,
)
from service.answering.question import QuestionType

AGREEMENT_BONUS = 0.05
MAX_AGREEMENT_BONUS = 0.15
# Figures and dates compete readily; for names, only a near-equal rival counts as a dispute.
ALTERNATIVE_RATIO = {"numeric": 0.6, "entity": 0.85}
ALTERNATIVE_RELEVANCE = 0.7
MAX_ALTERNATIVES = 4
# Two sentences that state values for one thing share at least this share of their words.
SAME_THING = 0.2
# Where a candidate sits: its document and character offsets.
_Span = tuple[str, int, int]


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
    # Below this score a mention is no witness (a weak name in an unrelated passage).
    floor: float = 0.0
    # The source (article) of a document: parts of one article are one witness.
    source: Callable[[str], str] = str

    @property
    def documents(self) -> set[str]:
        return {m.doc_id for m in self.members if m.score >= self.floor}

    @property
    def score(self) -> float:
        # A witness states the value about the same thing: "two" in another article's
        # sentence about something else is no support for "two".
        about = _beyond(self.best)
        agreeing = {
            m.doc_id
            for m in self.members
            if m.score >= self.floor
            and (m.doc_id == self.best.doc_id or _shared_terms(_beyond(m), about) >= SAME_THING)
        }
        witnesses = max(len({self.source(d) for d in agreeing}), 1)
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


def _group(
    candidates: Sequence[Candidate], floor: float, source: Callable[[str], str] = str
) -> list[_Group]:
    """Group equal answers; a short form ("Rubio") joins the longer one ("Marco Rubio")."""
    groups: dict[str, _Group] = {}
    for candidate in sorted(candidates, key=lambda c: -len(c.text)):
        key = answer_key(candidate.text)
        if not key:
            continue
        target = groups.get(key) or next(
            (g for k, g in groups.items() if same_answer(k, key)), None
        )
        if target is None:
            groups[key] = _Group(candidate, [candidate], floor, source)
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
            if group.best.score >= floor and fuller_name(group.best.text, strongest.text):
                # Keep the fuller name but credit the strongest evidence for it.
                group.best = replace(group.best, score=strongest.score)
            else:
                # A fuller wording the reader doubted is no citation for the answer, and a
                # clause that merely holds the answer ("what kind of guys are going to move
                # in free agency" for "free agency") is another answer.
                group.best = strongest
    return sorted(groups.values(), key=lambda g: -g.score)


def _answer(index: Index, group: _Group, question: QuestionType, disagrees: bool = False) -> Answer:
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
        answer_type="sentence" if group.best.label == "SENTENCE" else question.kind,
        supporting=tuple(supporting),
        qualifier=_qualifier_text(index, group.best),
        disagrees=disagrees,
    )


def _qualifier_text(index: Index, candidate: Candidate) -> str | None:
    qualifier = qualifier_for(index, candidate) if candidate.label != "SENTENCE" else None
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
    alternative. ``passages`` are searched for other sources' copies of the candidates'
    sentences that give another value. ``trusted`` says whether a candidate (with its number
    of witnesses, and the score of the answer it competes with) is one the service would
    answer with: only such values can disagree.
    """
    source = functools.cache(functools.partial(source_of, index))
    groups = _group(candidates, abstain_threshold, source)
    if not groups or groups[0].score < abstain_threshold:
        return Aggregate(None, [], False)
    copies: set[frozenset[_Span]] = set()
    if groups[0].best.label != "SENTENCE" and passages:
        read = [groups[0].best, *(c for c in candidates if c.score >= abstain_threshold)]
        rivals = copy_rivals([c for c in read if c.label != "SENTENCE"], passages, index)
        if rivals:
            groups = _group([*candidates, *(r.copy for r in rivals)], abstain_threshold, source)
            copies = {frozenset((_span(r.original), _span(r.copy))) for r in rivals}
    top = groups[0]
    answer = _answer(index, top, question_type)
    runner_up = groups[1].score if len(groups) > 1 else 0.0
    witnesses = len(top.documents)
    if top.best.label == "SENTENCE":
        return Aggregate(answer, [], False, top.best, witnesses, runner_up)
    alternatives = _alternatives(
        index,
        top,
        groups[1:],
        question_type,
        abstain_threshold,
        alternative_ratio,
        trusted,
        copies,
    )
    disagree = any(a.disagrees for a in alternatives)
    return Aggregate(answer, alternatives, disagree, top.best, witnesses, runner_up)


def _span(candidate: Candidate) -> _Span:
    return candidate.doc_id, candidate.start, candidate.end


@dataclass(frozen=True)
class _Statement:
    """One sentence that states a value, with its source and the scope it states it for."""

    source: str
    span: _Span
    terms: frozenset[str]  # the sentence's content words
    scope: Qualifier | None


@dataclass(frozen=True)
class _Claim:
    """A value with the sources that state it and what each of its witnesses says."""

    group: _Group
    sources: frozenset[str]
    statements: tuple[_Statement, ...]
    trusted: bool


def _beyond(candidate: Candidate) -> frozenset[str]:
    """The content words of a candidate's sentence beyond those of its value."""
    return term_set(candidate.sentence.text) - term_set(candidate.text)


def _shared_terms(one: frozenset[str], two: frozenset[str]) -> float:
    """The share of the shorter sentence's content words that the other one has too."""
    return len(one & two) / max(min(len(one), len(two)), 1)


def _same_thing(first: _Statement, second: _Statement, copies: set[frozenset[_Span]]) -> bool:
    """Two sources' sentences about the same thing (they share enough words beyond the
    question's), each stating its value for the same scope; or one value is the other's
    place in a copy of its sentence, which is the same thing however few words it has."""
    if first.source == second.source:
        return False
    if frozenset((first.span, second.span)) in copies:
        return True
    return (
        same_scope(first.scope, second.scope)
        and _shared_terms(first.terms, second.terms) >= SAME_THING
    )


def _conflict(first: _Claim, second: _Claim, copies: set[frozenset[_Span]]) -> bool:
    """Two sources, each stating its own value for the same thing and scope.

    A copy of a value's sentence may be the one that speaks of the same thing as the other
    value: the best-read sentence of a value is often a headline or a fragment ("Peter
    Handke.") while another source states it in full, in a copy of the rival's sentence.
    """
    return (
        first.trusted
        and second.trusted
        and _one_value(first.group.best.text)
        and _one_value(second.group.best.text)
        and bool(first.sources - second.sources)
        and bool(second.sources - first.sources)
        and any(_same_thing(a, b, copies) for a in first.statements for b in second.statements)
    )


def _one_value(text: str) -> bool:
    """A figure, a name, a date, or a word or two ("sovereign decision"): what two sources
    can contradict. Two clauses ("run by cartels", "protecting politicians") may both hold."""
    words = text.split()
    return len(words) <= 2 or any(w[0].isdigit() or w[0].isupper() for w in words[1:])


def _statement(index: Index, candidate: Candidate, question_type: QuestionType) -> _Statement:
    scope = qualifier_for(index, candidate)
    if question_type.kind == "when" and scope is not None and scope.kind == "time":
        scope = None  # the value is itself a time: a year beside it is part of it
    source = source_of(index, candidate.doc_id)
    terms = term_set(candidate.sentence.text)
    return _Statement(source, _span(candidate), terms, scope)


def _claim(
    index: Index, group: _Group, question_type: QuestionType, contested: set[_Span], trusted: bool
) -> _Claim:
    # Every document that states the value, however weakly: one that states both values
    # (an answer quoted in its own headline, say) is context, not a second source.
    sources = frozenset(source_of(index, m.doc_id) for m in group.members)
    # What the value is about is said by its best reading, and by every sentence of it that
    # a copy in another source changes (the copy is about exactly that). Other sentences that
    # repeat the value are not asked: two sentences of one topic ("the extradition of the 37
    # inmates", "29 cartel figures extradited in late February") share words, not a subject.
    witnesses = {
        _span(m): m
        for m in [group.best, *group.members]
        if m is group.best or _span(m) in contested
    }
    statements = tuple(_statement(index, m, question_type) for m in witnesses.values())
    return _Claim(group, sources, statements, trusted)


def _kept(
    top: _Group,
    others: Sequence[_Group],
    question_type: QuestionType,
    floor: float,
    alternative_ratio: Mapping[str, float],
    contested: set[_Span],
) -> list[_Group]:
    """The other values worth listing beside ``top``: contested ones always, others when
    they are strong and relevant enough and not in the answer's own sentence."""
    top_rows = {m.sentence.row for m in top.members}
    ratio = alternative_ratio[
        "numeric" if question_type.numeric or question_type.kind == "when" else "entity"
    ]

    def is_contested(group: _Group) -> bool:
        return any(_span(m) in contested for m in group.members)

    kept: list[_Group] = []
    # Disputed values first, so that weaker context never crowds them out of the list.
    for group in sorted(others, key=lambda g: not is_contested(g)):
        if group.best.label == "SENTENCE":
            continue
        if not is_contested(group) and (
            # Another entity in the answer's own sentence is context, not a competing claim.
            group.best.sentence.row in top_rows
            or group.score < max(ratio * top.score, floor)
            or group.best.sentence.lexical < ALTERNATIVE_RELEVANCE * top.best.sentence.lexical
        ):
            continue
        kept.append(group)
        if len(kept) == MAX_ALTERNATIVES:
            break
    return kept


def _alternatives(
    index: Index,
    top: _Group,
    others: Sequence[_Group],
    question_type: QuestionType,
    floor: float,
    alternative_ratio: Mapping[str, float],
    trusted: Callable[[Candidate, int, float], bool] | None,
    copies: set[frozenset[_Span]],
) -> list[Answer]:
    """Other values that answer the question, each marked as a disagreement or as context.

    A value disagrees when a source states it and another source states a different value
    (the answer, or another alternative) for the same scope, and both are values the
    service would answer with (``trusted``). A value that a copy of its sentence changes, or
    that a copy gives in another value's place (``copies`` pairs their spans), is always
    listed: the copies disagree on exactly that value, even in the answer's own sentence.
    """
    contested = {span for pair in copies for span in pair}
    kept = _kept(top, others, question_type, floor, alternative_ratio, contested)
    kept.sort(key=lambda g: -g.score)
    claims = [
        _claim(
            index,
            g,
            question_type,
            contested,
            trusted is None or g is top or trusted(g.best, len(g.documents), top.score),
        )
        for g in [top, *kept]
    ]
    answer_claim, *alternative_claims = claims
    answer_claim = replace(answer_claim, trusted=True)  # the answer stands, or it abstains
    claims = [answer_claim, *alternative_claims]
    return [
        _answer(
            index,
            claim.group,
            question_type,
            any(_conflict(claim, other, copies) for other in claims if other is not claim),
        )
        for claim in alternative_claims
    ]
