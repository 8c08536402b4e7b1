""" "When was it published": the byline's date, quoted and cited like any other answer."""

from __future__ import annotations

import pytest

from service.answering.engine import publication_candidates
from service.answering.question import asks_publication_date
from tests.service.answering.fakes import (
    EXTRADITIONS,
    FEBRUARY,
    TOTAL,
    extradition_passages,
    fake_index,
    passage,
)


@pytest.mark.parametrize(
    "question",
    [
        "When was the report on extraditions published?",
        "On what date was the article posted?",
        "what day was it released",
    ],
)
def test_questions_about_the_article_itself(question: str) -> None:
    assert asks_publication_date(question)


@pytest.mark.parametrize(
    "question",
    ["When did Mexico extradite 92 people?", "Who published the report?", "How many were sent?"],
)
def test_questions_about_the_news(question: str) -> None:
    assert not asks_publication_date(question)


def test_each_article_gives_its_written_date_once() -> None:
    index = fake_index()
    # Two passages of one article, then an article without a dated byline.
    passages = [
        passage(EXTRADITIONS, [TOTAL], 0.8),
        passage(EXTRADITIONS, [FEBRUARY], 0.5, index=1),
        *extradition_passages()[1:],
    ]

    candidates = publication_candidates(index, passages)

    assert len(candidates) == 1
    date = candidates[0]
    assert (date.doc_id, date.text, date.label) == ("mexico", "June 18, 2025", "DATE")
    assert EXTRADITIONS.text[date.start : date.end] == date.text
    # Its "sentence" is the byline's line, and its score the best passage's.
    assert date.sentence.text == "By Staff, June 18, 2025"
    assert EXTRADITIONS.text[date.sentence.start : date.sentence.end] == date.sentence.text
    assert date.score == date.sentence.score == 0.8


def test_no_dated_article_no_candidate() -> None:
    assert publication_candidates(fake_index(), extradition_passages()[1:]) == []
