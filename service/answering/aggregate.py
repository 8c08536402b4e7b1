"""Merge equal answers across sources; keep every differing figure, each with its citation.

Equal answers (after normalisation) from several documents merge and gain confidence.
Different values found in *other sentences that answer the same question* are returned as
alternatives, and the response says the sources disagree instead of silently picking one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from citeqa.types import Answer, Candidate, Citation
from indexer.index import Index
from service.answering.normalize import answer_key
from service.answering.question import QuestionType

AGREEMENT_BONUS = 0.05
MAX_AGREEMENT_BONUS = 0.15
# Figures and dates compete readily; for names, only a near-equal rival counts as a dispute.
ALTERNATIVE_RATIO = {"numeric": 0.6, "entity": 0.85}
ALTERNATIVE_RELEVANCE = 0.7
MAX_ALTERNATIVES = 4
_MAGNITUDES = {"hundred", "thousand", "million", "billion", "trillion", "percent", "dozen"}


@dataclass(frozen=True)
class Aggregate:
    answer: Answer | None
    alternatives: list[Answer]
    sources_disagree: bool


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


def _answer(index: Index, group: _Group, question_type: QuestionType) -> Answer:
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
    )


def aggregate(
    index: Index,
    candidates: Sequence[Candidate],
    question_type: QuestionType,
    abstain_threshold: float,
    alternative_ratio: Mapping[str, float] = ALTERNATIVE_RATIO,
) -> Aggregate:
    """Pick the answer, or abstain when even the best candidate is below the threshold.

    ``alternative_ratio`` is how close to the answer's score (``numeric`` for figures and
    dates, ``entity`` otherwise) a differing value must come to be listed as a disagreement.
    """
    groups = _group(candidates, abstain_threshold)
    if not groups or groups[0].score < abstain_threshold:
        return Aggregate(None, [], False)
    top = groups[0]
    answer = _answer(index, top, question_type)
    if top.best.label == "SENTENCE":
        return Aggregate(answer, [], False)
    top_rows = {m.sentence.row for m in top.members}
    alternatives = []
    for group in groups[1:]:
        # Another entity in the answer's own sentence is context, not a competing claim.
        if group.best.sentence.row in top_rows or group.best.label == "SENTENCE":
            continue
        ratio = alternative_ratio[
            "numeric" if question_type.numeric or question_type.kind == "when" else "entity"
        ]
        if group.score < max(ratio * top.score, abstain_threshold):
            continue
        if group.best.sentence.lexical < ALTERNATIVE_RELEVANCE * top.best.sentence.lexical:
            continue
        alternatives.append(_answer(index, group, question_type))
        if len(alternatives) == MAX_ALTERNATIVES:
            break
    return Aggregate(answer, alternatives, bool(alternatives))
