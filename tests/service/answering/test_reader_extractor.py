"""Reader spans become cited candidates: offsets, sentences, confidence and typed rules.

A stub reader returns chosen spans, so these tests need neither a model nor an index.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from citeqa.config import READER_FLOOR
from citeqa.types import Chunk, Hit, Passage, ScoredSentence
from service.answering.question import classify_question
from service.answering.reader_extractor import (
    RUNNING_TOTAL_BONUS,
    WRONG_SHAPE_PENALTY,
    ReaderExtractor,
    confidence,
)
from service.reading.reader import ReaderSpan

DOCUMENT = (
    "Intro line. To date, Mexico has extradited 92 criminals. "
    "In February it sent 29 cartel figures."
)


def _passage(doc_id: str, chunk_start: int, chunk_end: int) -> Passage:
    text = DOCUMENT[chunk_start:chunk_end]
    chunk = Chunk(doc_id, 0, chunk_start, chunk_end, text)
    sentences = []
    for row, sentence in enumerate(DOCUMENT.split(". ")):
        start = DOCUMENT.index(sentence)
        end = start + len(sentence)
        if chunk_start <= start and end <= chunk_end:
            score = 0.9 if "92" in sentence else 0.5
            sentences.append(ScoredSentence(row, doc_id, start, end, sentence, 0.5, 0.5, score))
    return Passage(Hit(chunk, 1.0), 1.0, tuple(sentences))


class StubReader:
    """Returns, for each context, the spans of the given words with a fixed margin."""

    def __init__(self, words: dict[str, float]) -> None:
        self.words = words
        self.calls: list[tuple[list[str], list[int] | None]] = []

    def read(
        self,
        question: str,
        contexts: Sequence[str],
        focuses: Sequence[int] | None = None,
        spans_per_context: int = 3,
        stride: int = 128,
        prefer: object = None,
    ) -> list[ReaderSpan]:
        del question, spans_per_context, stride, prefer  # SpanReading's, unused by the stub
        self.calls.append((list(contexts), list(focuses) if focuses is not None else None))
        spans = []
        for index, context in enumerate(contexts):
            for word, margin in self.words.items():
                start = context.find(word)
                if start >= 0:
                    spans.append(ReaderSpan(index, start, start + len(word), word, margin, 0.0))
        return sorted(spans, key=lambda s: -s.margin)


def test_spans_map_to_document_offsets_and_their_sentence() -> None:
    passage = _passage("d1", 12, len(DOCUMENT))
    extractor = ReaderExtractor(StubReader({"92": 8.0, "29": 2.0}), passages=4)

    candidates = extractor.extract(
        "How many in February?", classify_question("How many in February?"), [passage]
    )

    assert [c.text for c in candidates] == ["92", "29"]
    for candidate in candidates:
        assert DOCUMENT[candidate.start : candidate.end] == candidate.text
        assert candidate.sentence.start <= candidate.start < candidate.end
        assert candidate.end <= candidate.sentence.end
        assert candidate.label == "READER"
    assert candidates[0].score == pytest.approx(confidence(8.0))


def test_a_span_across_a_sentence_end_keeps_the_best_matching_sentence() -> None:
    passage = _passage("d1", 0, len(DOCUMENT))
    reader = StubReader({"92 criminals. In February it sent 29": 8.0})

    candidates = ReaderExtractor(reader).extract(
        "What did Mexico do?", classify_question("What did Mexico do?"), [passage]
    )

    assert [c.text for c in candidates] == ["92 criminals"]


def test_no_cut_after_an_abbreviation_the_sentence_splitter_took_for_an_end() -> None:
    text = "It was led by Sgt. Michael Faranda. He left."
    pieces = [(0, 18), (19, 35), (36, 44)]  # "It was led by Sgt." | "Michael Faranda." | ...
    sentences = tuple(
        ScoredSentence(row, "d1", start, end, text[start:end], 0.5, 0.5, 0.9 - row / 10)
        for row, (start, end) in enumerate(pieces)
    )
    passage = Passage(Hit(Chunk("d1", 0, 0, len(text), text), 1.0), 1.0, sentences)
    reader = StubReader({"Sgt. Michael Faranda": 8.0})

    candidates = ReaderExtractor(reader).extract(
        "Who led it?", classify_question("Who led it?"), [passage]
    )

    assert [c.text for c in candidates] == ["Sgt. Michael Faranda"]


def test_reader_reads_the_top_passages_around_their_best_sentence() -> None:
    passages = [_passage(f"d{i}", 12, len(DOCUMENT)) for i in range(6)]
    reader = StubReader({"92": 8.0})

    ReaderExtractor(reader, passages=4).extract("Who?", classify_question("Who?"), passages)

    contexts, focuses = reader.calls[0]
    assert len(contexts) == 4
    best = passages[0].sentences[0]  # the "92" sentence scores highest
    assert focuses == [(best.start + best.end) // 2 - 12] * 4


def test_typed_rules_prefer_running_totals_and_numbers_for_counts() -> None:
    question = "How many people has Mexico extradited?"
    passage = _passage("d1", 0, len(DOCUMENT))
    reader = StubReader({"92": 4.0, "29": 4.0, "cartel figures": 4.0})

    typed = ReaderExtractor(reader, typed_rules=True).extract(
        question, classify_question(question), [passage]
    )
    plain = ReaderExtractor(reader, typed_rules=False).extract(
        question, classify_question(question), [passage]
    )

    scores = {c.text: c.score for c in typed}
    assert scores["92"] == pytest.approx(confidence(4.0) + RUNNING_TOTAL_BONUS)
    assert scores["29"] == pytest.approx(confidence(4.0))
    assert scores["cartel figures"] == pytest.approx(confidence(4.0) - WRONG_SHAPE_PENALTY)
    assert scores["cartel figures"] < READER_FLOOR  # never the answer, however confident
    assert typed[0].text == "92"
    assert [c.score for c in plain] == pytest.approx([confidence(4.0)] * 3)


@pytest.mark.parametrize(
    "question",
    ["When did Mexico send cartel figures?", "What is the date of the cartel figures' flight?"],
)
def test_a_when_question_wants_a_time(question: str) -> None:
    passage = _passage("d1", 0, len(DOCUMENT))
    reader = StubReader({"In February": 4.0, "cartel figures": 4.0})

    candidates = ReaderExtractor(reader).extract(question, classify_question(question), [passage])

    scores = {c.text: c.score for c in candidates}
    assert scores["February"] == pytest.approx(confidence(4.0))
    assert scores["cartel figures"] == pytest.approx(confidence(4.0) - WRONG_SHAPE_PENALTY)


@pytest.mark.parametrize(
    ("question", "span"),
    [
        ("How many people were left unemployed?", "thousands"),
        ("How many turkey wings are needed?", "a few"),
        ("How much retail activity does the area have?", "very little"),
        ("How long did the funeral last?", "an hour"),
        ("How often is the festival held?", "biennial"),
        ("When did it open?", "last spring"),
    ],
)
def test_counts_amounts_and_times_in_words_have_the_right_shape(question: str, span: str) -> None:
    text = f"We learnt it was {span} in the end."
    chunk = Chunk("d1", 0, 0, len(text), text)
    sentence = ScoredSentence(0, "d1", 0, len(text), text, 0.5, 0.5, 0.5)
    passage = Passage(Hit(chunk, 1.0), 1.0, (sentence,))

    candidates = ReaderExtractor(StubReader({span: 4.0})).extract(
        question, classify_question(question), [passage]
    )

    assert [c.text for c in candidates] == [span]
    assert candidates[0].score == pytest.approx(confidence(4.0))  # no penalty


def test_no_passages_give_no_candidates() -> None:
    extractor = ReaderExtractor(StubReader({"92": 1.0}))
    assert extractor.extract("Who?", classify_question("Who?"), []) == []


def test_confidence_is_monotonic_in_the_margin() -> None:
    margins = [-12.0, -2.0, 0.0, 3.0, 15.0]
    values = [confidence(m) for m in margins]
    assert values == sorted(values)
    assert confidence(0.0) == 0.5
    assert all(0.0 < v < 1.0 for v in values)
