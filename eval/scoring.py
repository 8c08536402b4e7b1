"""Per-question scores: passage relevance by content, answer EM/F1, failure attribution.

A passage is relevant when it comes from a gold document (if the question names any) and
contains a gold answer or the evidence span, compared after SQuAD normalisation. Labels
therefore survive re-chunking. Passage recall@k is the share of questions with a relevant
passage in the top k (the "top-k accuracy" of open-domain QA).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from eval.datasets import GoldQuestion
from eval.metrics import exact_match, normalize_answer, token_f1
from service.schemas import PassagePublic, QueryResponse

# Why a question was not answered right ("correct" when it was), for the failure table.
Failure = Literal[
    "correct",
    "answered_unanswerable",
    "wrongly_abstained",
    "not_retrieved",
    "below_top_k",
    "wrong_span",
]


@dataclass(frozen=True)
class QuestionScore:
    id: str
    question: str
    answerable: bool
    prediction: str | None
    exact_match: float | None
    f1: float | None
    first_relevant_passage: int | None  # 1-based rank, None if not retrieved
    first_relevant_document: int | None
    failure: Failure
    fake_returned: bool = False
    true_returned: bool = False
    both_in_passages: bool = False
    sources_disagree: bool = False
    confidence: float = 0.0


def _normalize_text(text: str) -> str:
    """SQuAD normalisation after dropping *all* punctuation, curly quotes included.

    The official answer normalisation strips ASCII punctuation only, so "“Three" would not
    contain "three"; relevance must not depend on the quote style of the source.
    """
    return normalize_answer("".join(" " if unicodedata.category(c)[0] == "P" else c for c in text))


def _contains(text: str, needle: str) -> bool:
    needle = _normalize_text(needle)
    return bool(needle) and f" {needle} " in f" {_normalize_text(text)} "


def passage_is_relevant(question: GoldQuestion, passage: PassagePublic) -> bool:
    """True when the passage is from a gold document and holds a gold answer or the evidence."""
    if question.relevance and passage.doc_id not in question.relevance:
        return False
    if not question.answers and not question.evidence:
        return passage.doc_id in question.relevance  # retrieval-only sets (BEIR)
    needles = [*question.answers, *([question.evidence] if question.evidence else [])]
    return any(_contains(passage.text, needle) for needle in needles)


def _first(flags: list[bool]) -> int | None:
    return next((rank for rank, flag in enumerate(flags, start=1) if flag), None)


def document_ranking(prediction: QueryResponse) -> list[str]:
    """The documents of the retrieved passages, in first-seen order."""
    ranking: list[str] = []
    for passage in prediction.passages:
        if passage.doc_id not in ranking:
            ranking.append(passage.doc_id)
    return ranking


def _attribute(
    question: GoldQuestion,
    prediction: QueryResponse,
    first: int | None,
    em: float | None,
    k: int,
) -> Failure:
    if not question.answerable:
        return "correct" if prediction.answer is None else "answered_unanswerable"
    if em == 1.0:
        return "correct"
    if prediction.answer is None:
        return "wrongly_abstained"
    if first is None:
        return "not_retrieved"
    if first > k:
        return "below_top_k"
    return "wrong_span"


def score_question(question: GoldQuestion, prediction: QueryResponse, k: int) -> QuestionScore:
    """Score one prediction; ``k`` is the cut-off for "retrieved below top-k"."""
    answer = prediction.answer.text if prediction.answer else None
    relevant = [passage_is_relevant(question, p) for p in prediction.passages]
    first = _first(relevant)
    documents = document_ranking(prediction)
    first_document = _first([d in question.relevance for d in documents])
    em = f1 = None
    if question.answers:
        em = exact_match(answer, question.answers)
        f1 = token_f1(answer, question.answers)
    returned = [answer or "", *(a.text for a in prediction.alternatives)]
    # "Both retrieved" means both values are in what the user is shown, the top k.
    passages_text = " ".join(p.text for p in prediction.passages[:k])
    return QuestionScore(
        id=question.id,
        question=question.question,
        answerable=question.answerable,
        prediction=answer,
        exact_match=em,
        f1=f1,
        first_relevant_passage=first,
        first_relevant_document=first_document,
        failure=_attribute(question, prediction, first, em, k),
        fake_returned=any(_contains(r, f) for r in returned for f in question.fake_answers),
        true_returned=any(
            _contains(r, a) or _contains(a, r) for r in returned if r for a in question.answers
        ),
        both_in_passages=bool(question.fake_answers)
        and any(_contains(passages_text, a) for a in question.answers)
        and any(_contains(passages_text, f) for f in question.fake_answers),
        sources_disagree=prediction.sources_disagree,
        confidence=prediction.answer.confidence if prediction.answer else 0.0,
    )
