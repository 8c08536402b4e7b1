"""The model-free extractor: typed spans from the best sentences, on hand-made passages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from citeqa.types import Span
from service.answering.extractor import CUMULATIVE_BONUS, SpanExtractor, top_sentences
from service.answering.question import classify_question
from tests.service.answering.fakes import (
    BEGAN,
    EXTRADITIONS,
    FARMERS,
    FEBRUARY,
    HARVEST,
    TOTAL,
    extradition_passages,
    fake_index,
    passage,
)


def _extract(question: str, index_entities: bool = True) -> list[tuple[str, str]]:
    extractor = SpanExtractor(fake_index(index_entities))
    candidates = extractor.extract(question, classify_question(question), extradition_passages())
    for candidate in candidates:  # every candidate is a checkable slice of its document
        text = extractor.index.documents[candidate.doc_id].text
        assert text[candidate.start : candidate.end] == candidate.text
        assert candidate.sentence.start <= candidate.start <= candidate.end
        assert candidate.end <= candidate.sentence.end
    return [(c.text, c.label) for c in candidates]


def test_top_sentences_are_best_first_across_passages_and_read_once() -> None:
    first = passage(EXTRADITIONS, [TOTAL, FEBRUARY], 0.8)
    # The same sentence row again, as a duplicate and in a later passage: read once.
    second = passage(HARVEST, [FARMERS, BEGAN], 0.3, duplicates=(first,))

    ranked = top_sentences([first, second, first])

    assert [s.row for s in ranked] == [TOTAL.row, FEBRUARY.row, FARMERS.row, BEGAN.row]
    assert [s.row for s in top_sentences([first, second], limit=1)] == [TOTAL.row]


def test_a_later_passage_loses_a_near_tie() -> None:
    equal = replace(BEGAN, score=TOTAL.score)

    ranked = top_sentences([passage(EXTRADITIONS, [TOTAL], 0.8), passage(HARVEST, [equal], 0.3)])

    assert [s.row for s in ranked] == [TOTAL.row, BEGAN.row]
    ranked = top_sentences([passage(HARVEST, [equal], 0.3), passage(EXTRADITIONS, [TOTAL], 0.8)])
    assert [s.row for s in ranked] == [BEGAN.row, TOTAL.row]


def test_how_many_takes_the_running_total_first() -> None:
    found = _extract("How many people has Mexico extradited?")

    assert found[0] == ("92", "CARDINAL")
    assert ("29", "NUMBER") in found  # a number no entity covers is still a candidate
    assert all(label in {"CARDINAL", "NUMBER"} for _, label in found)


def test_spans_that_only_repeat_the_question_are_dropped() -> None:
    found = _extract("Where did Mexico extradite people to?")

    assert found[0] == ("the United States", "GPE")
    assert ("Mexico", "GPE") not in found


def test_a_question_that_wants_a_sentence_gets_the_best_sentences() -> None:
    found = _extract("How did the farmers work?")

    assert found[0] == (TOTAL.text, "SENTENCE")
    assert {text for text, _ in found} == {TOTAL.text, FEBRUARY.text, FARMERS.text, BEGAN.text}


def test_without_a_span_of_the_expected_kind_the_best_sentence_answers() -> None:
    found = _extract("Who harvested corn?")  # no PERSON, ORG or NORP in these passages

    assert found[0] == (TOTAL.text, "SENTENCE")
    assert all(label == "SENTENCE" for _, label in found)


def test_a_dated_answer_beats_a_vague_time() -> None:
    found = _extract("When did the harvest begin?")

    texts = [text for text, _ in found]
    assert "3 September" in texts and "this year" in texts
    assert texts.index("3 September") < texts.index("this year")


def test_a_what_question_takes_entities_and_noun_chunks() -> None:
    found = _extract("What did the farmers harvest?")

    assert ("corn", "") in found and ("Iowa", "GPE") in found
    assert ("Farmers", "") not in found  # it only repeats the question
    assert all(label != "NUMBER" for _, label in found)  # no bare numbers for "what"


def test_a_relative_wh_word_is_never_an_answer() -> None:
    extractor = SpanExtractor(fake_index())
    text = "Which farmers harvested corn?"
    sentence = replace(FARMERS, end=len(text), text=text)

    scored = extractor._score(
        Span(0, len("Which farmers")), text, sentence, {"corn"}, classify_question("What?")
    )

    assert scored is None


def test_a_running_total_gains_for_a_question_about_the_total() -> None:
    extractor = SpanExtractor(fake_index())
    passages = extradition_passages()

    def score_of_92(question: str) -> float:
        candidates = extractor.extract(question, classify_question(question), passages)
        return next(c.score for c in candidates if c.text == "92")

    total = score_of_92("How many people has Mexico extradited?")  # "has ...ed": a total
    once = score_of_92("How many people did Mexico extradite?")

    assert total - once == pytest.approx(CUMULATIVE_BONUS)
