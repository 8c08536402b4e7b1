"""Candidate spans inside one sentence, by question type, from hand-made stored spans."""

from __future__ import annotations

from citeqa.types import Document, Span
from service.answering.question import classify_question
from service.answering.spans import candidate_spans, cause_clauses
from tests.service.answering.fakes import (
    EXTRADITIONS,
    FEBRUARY,
    TOTAL,
    fake_index,
    sentence,
    span_of,
)


def _texts(spans: list[Span]) -> list[str]:
    return [EXTRADITIONS.text[s.start : s.end] for s in spans]


def test_a_why_question_takes_the_causal_clause() -> None:
    clauses = cause_clauses(FEBRUARY)

    assert _texts(clauses) == ["because Washington threatened new tariffs"]
    assert clauses[0].label == "CAUSE"


def test_a_causal_clause_of_fewer_than_three_words_is_not_a_reason() -> None:
    document = Document("short", "They left early, to rest.")
    short = sentence(document, document.text, 0, 0.9)

    assert cause_clauses(short) == []  # "to rest" is too short to be a reason


def test_why_reads_no_stored_spans() -> None:
    spans = candidate_spans(
        fake_index(), EXTRADITIONS.text, FEBRUARY, classify_question("Why were they sent?")
    )

    assert _texts(spans) == ["because Washington threatened new tariffs"]


def test_a_count_takes_cardinals_and_uncovered_numbers_only() -> None:
    question = classify_question("How many people were sent?")

    total = candidate_spans(fake_index(), EXTRADITIONS.text, TOTAL, question)
    february = candidate_spans(fake_index(), EXTRADITIONS.text, FEBRUARY, question)

    assert [(t, s.label) for t, s in zip(_texts(total), total, strict=True)] == [
        ("92", "CARDINAL")  # the bare number inside the entity is not added twice
    ]
    assert [(t, s.label) for t, s in zip(_texts(february), february, strict=True)] == [
        ("29", "NUMBER")
    ]


def test_a_typed_question_keeps_only_entities_of_its_labels() -> None:
    spans = candidate_spans(
        fake_index(), EXTRADITIONS.text, TOTAL, classify_question("Where were they sent?")
    )

    assert _texts(spans) == ["Mexico", "the United States"]  # not the title's "Mexico"


def test_an_untyped_question_takes_entities_and_noun_chunks() -> None:
    spans = candidate_spans(
        fake_index(), EXTRADITIONS.text, FEBRUARY, classify_question("What did they send?")
    )

    assert _texts(spans) == ["February", "Washington", "29 cartel figures", "new tariffs"]


def test_a_possessive_entity_grows_to_its_noun_phrase() -> None:
    from tests.service.answering.fakes import FakeIndex, FakeManifest

    document = Document("chapo", "El Chapo’s sons were sent to Chicago.")
    index = FakeIndex(
        documents={"chapo": document},
        spans_by_kind={
            ("chapo", "entity"): [span_of(document, "El Chapo’s", "PERSON")],
            ("chapo", "noun_chunk"): [span_of(document, "El Chapo’s sons")],
        },
        manifest=FakeManifest(),
    )
    whole = sentence(document, document.text, 0, 0.9)

    spans = candidate_spans(index, document.text, whole, classify_question("Who was sent?"))  # type: ignore[arg-type]

    assert [document.text[s.start : s.end] for s in spans] == ["El Chapo’s sons"]
    assert spans[0].label == "PERSON"
