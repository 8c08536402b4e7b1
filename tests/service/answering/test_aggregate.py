"""Aggregation of candidates: agreement, disagreement and abstention, without an index."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from citeqa.types import Candidate, Document, ScoredSentence
from service.answering.aggregate import aggregate
from service.answering.question import classify_question
from service.answering.reader_extractor import ALTERNATIVE_RATIO

TEXTS = {
    "a": "Pedro Inzunza Noriega was charged first. Claudia Sheinbaum spoke.",
    "b": "Claudia Sheinbaum said nothing about it.",
    "c": "Sheinbaum met reporters on Monday.",
}


def _index() -> Any:
    return SimpleNamespace(documents={k: Document(k, v, title=k) for k, v in TEXTS.items()})


def _candidate(doc_id: str, text: str, score: float, row: int, lexical: float = 0.5) -> Candidate:
    document = TEXTS[doc_id]
    start = document.index(text)
    sentence_end = document.index(".", start) + 1
    sentence_start = document.rfind(". ", 0, start) + 2 if ". " in document[:start] else 0
    sentence = ScoredSentence(
        row, doc_id, sentence_start, sentence_end, document[sentence_start:sentence_end],
        0.5, lexical, 0.5,
    )  # fmt: skip
    return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)


def test_weak_mentions_in_other_sources_do_not_outvote_a_confident_answer() -> None:
    question = classify_question("Who was the first person charged?")
    candidates = [
        _candidate("a", "Pedro Inzunza Noriega", 0.97, 0),
        _candidate("a", "Claudia Sheinbaum", 0.93, 1),
        _candidate("b", "Claudia Sheinbaum", 0.05, 2),  # below the threshold: no witness
        _candidate("c", "Sheinbaum", 0.04, 3),
    ]

    result = aggregate(_index(), candidates, question, 0.4, ALTERNATIVE_RATIO)

    assert result.answer is not None
    assert result.answer.text == "Pedro Inzunza Noriega"
    assert result.answer.supporting == ()


def test_confident_sources_that_agree_support_the_answer() -> None:
    question = classify_question("Who spoke?")
    candidates = [
        _candidate("a", "Claudia Sheinbaum", 0.8, 1),
        _candidate("b", "Claudia Sheinbaum", 0.7, 2),
        _candidate("c", "Sheinbaum", 0.6, 3),
    ]

    result = aggregate(_index(), candidates, question, 0.4, ALTERNATIVE_RATIO)

    assert result.answer is not None and result.answer.text == "Claudia Sheinbaum"
    assert {c.doc_id for c in result.answer.supporting} == {"b", "c"}
    assert result.answer.confidence > 0.8  # agreement adds to the best source's score


def test_below_the_threshold_the_answer_is_null() -> None:
    question = classify_question("Who spoke?")
    result = aggregate(_index(), [_candidate("a", "Claudia Sheinbaum", 0.3, 1)], question, 0.4)

    assert result.answer is None and result.alternatives == []


def test_a_figure_with_its_noun_is_the_same_answer_as_the_figure() -> None:
    from service.answering.aggregate import _same_answer

    assert _same_answer("37 inmates", "37")
    assert _same_answer("marco rubio", "rubio")
    assert not _same_answer("1 million", "1")
    assert not _same_answer("29 of 37", "29")
    assert not _same_answer("2937 inmates", "37")


def test_a_figure_is_answered_alone_and_keeps_its_best_evidence() -> None:
    texts = {"a": "Mexico sent 37 inmates north.", "b": "The 37 were flown out."}
    index = SimpleNamespace(documents={k: Document(k, v) for k, v in texts.items()})

    def candidate(doc_id: str, text: str, score: float) -> Candidate:
        document = texts[doc_id]
        start = document.index(text)
        sentence = ScoredSentence(0, doc_id, 0, len(document), document, 0.5, 0.5, 0.5)
        return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)

    result = aggregate(
        index, [candidate("a", "37 inmates", 0.9), candidate("b", "37", 0.7)],
        classify_question("How many were sent?"), 0.4, ALTERNATIVE_RATIO,
    )  # fmt: skip

    assert result.answer is not None and result.answer.text == "37"
    assert result.answer.confidence >= 0.9  # credited with the strongest member
    assert [c.doc_id for c in result.answer.supporting] == ["a"]
