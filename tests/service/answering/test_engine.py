"""The query engine with a fake retriever, embedder and reader: no index, no model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from citeqa.config import EXTRACTOR_ABSTAIN_THRESHOLD, READER_ABSTAIN_THRESHOLD, Settings
from service.answering.abstention import FEATURES, MODEL_PATH, load_model
from service.answering.engine import QueryEngine, make_engine
from service.answering.extractor import SpanExtractor
from service.answering.reader_extractor import ReaderExtractor
from service.errors import InvalidQuestionError
from service.retrieval.retriever import Filters
from tests.service.answering.fakes import (
    EXTRADITIONS,
    FakeReader,
    FakeRetriever,
    extradition_passages,
    fake_embedder,
    fake_index,
)

QUESTION = "How many people has Mexico extradited?"


def _engine(
    reader: FakeReader | None = None, threshold: float = EXTRACTOR_ABSTAIN_THRESHOLD
) -> tuple[QueryEngine, FakeRetriever]:
    retriever = FakeRetriever(fake_index(), extradition_passages())
    embedder, _ = fake_embedder()
    return QueryEngine(retriever, embedder, threshold, reader), retriever


@pytest.mark.parametrize(
    ("question", "top_k", "message"),
    [("   ", 5, "question is empty"), (QUESTION, 0, "top_k must be at least 1")],
)
def test_blank_question_or_zero_top_k_is_refused(question: str, top_k: int, message: str) -> None:
    engine, retriever = _engine()

    with pytest.raises(InvalidQuestionError, match=message):
        engine.find(question, top_k)
    assert retriever.calls == []  # refused before any work


def test_find_reads_more_passages_than_it_shows_and_times_each_stage() -> None:
    engine, retriever = _engine()
    filters = Filters(sources=frozenset({"reuters"}))

    found = engine.find(QUESTION, top_k=1, filters=filters)

    assert [(c.top_k, c.filters) for c in retriever.calls] == [(8, filters)]
    assert len(found.passages) == 2
    assert found.question_type.kind == "how_many"
    assert set(found.timings_ms) == {"embed", "retrieve", "read", "aggregate"}


def test_the_retrieval_query_drives_retrieval_and_the_question_reading() -> None:
    retriever = FakeRetriever(fake_index(), extradition_passages())
    embedder, fake = fake_embedder()
    reader = FakeReader({"92": 8.0})
    engine = QueryEngine(retriever, embedder, 0.0, reader)

    engine.answer("And how many?", retrieval_query="Mexico extraditions", reading_question=QUESTION)

    assert fake.queries == ["Mexico extraditions"]
    assert [c.question for c in retriever.calls] == ["Mexico extraditions"]
    assert reader.questions == [QUESTION]


def test_without_a_reader_the_extractor_answers_with_a_checkable_citation() -> None:
    engine, _ = _engine()

    result = engine.answer(QUESTION, top_k=1)

    assert result.answer is not None
    assert result.answer.text == "92"
    citation = result.answer.citation
    assert EXTRADITIONS.text[citation.char_start : citation.char_end] == "92"
    assert (citation.doc_id, citation.source, citation.published) == (
        "mexico",
        "Reuters",
        "2025-06-18",
    )
    assert citation.sentence.startswith("To date, Mexico has extradited 92")
    assert result.question_type == "how_many"
    assert [p.chunk.doc_id for p in result.passages] == ["mexico"]  # top_k of the 8 read
    assert result.timings_ms["total"] == pytest.approx(
        sum(v for k, v in result.timings_ms.items() if k != "total"), abs=0.01
    )
    # The model-free extractor's score has no abstention model over it.
    found = engine.find(QUESTION)
    assert engine.abstention is None and engine.abstention_features(QUESTION, found) is None


def test_without_a_reader_a_weak_best_candidate_abstains() -> None:
    engine, _ = _engine(threshold=1.5)  # above any sentence score

    result = engine.answer(QUESTION)

    assert result.answer is None and result.alternatives == ()
    assert len(result.passages) == 2  # the passages are still listed


def test_with_a_reader_its_span_answers_and_the_model_reads_its_features() -> None:
    engine, _ = _engine(FakeReader({"92": 10.0, "29": 1.0}), threshold=0.0)

    result = engine.answer(QUESTION)
    row = engine.abstention_features(QUESTION, engine.find(QUESTION))

    assert result.answer is not None and result.answer.text == "92"
    assert row is not None and len(row) == len(FEATURES)
    assert row[0] == pytest.approx(result.answer.confidence, abs=0.1)  # the reader's score


def test_the_abstention_model_can_withhold_a_reader_answer() -> None:
    reader = FakeReader({"92": 10.0})
    answering, _ = _engine(reader, threshold=0.0)
    withholding, _ = _engine(reader, threshold=1.0)  # no probability reaches 1

    assert answering.answer(QUESTION).answer is not None
    result = withholding.answer(QUESTION)
    assert result.answer is None and result.alternatives == ()
    assert not result.sources_disagree and len(result.passages) == 2


def test_a_reader_span_below_the_floor_is_never_an_answer() -> None:
    engine, _ = _engine(FakeReader({"92": -10.0}), threshold=0.0)

    found = engine.find(QUESTION)

    assert found.aggregate.answer is None
    assert engine.abstention_features(QUESTION, found) is None


def test_a_publication_question_is_answered_from_the_byline() -> None:
    engine, _ = _engine(FakeReader({"92": 1.0}), threshold=0.0)

    result = engine.answer("When was the report on Mexico's extraditions published?")

    assert result.answer is not None
    assert result.answer.text == "June 18, 2025"
    assert result.answer.citation.sentence == "By Staff, June 18, 2025"


def test_an_index_without_entities_warns_the_model_free_extractor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    embedder, _ = fake_embedder()
    with caplog.at_level(logging.WARNING, logger="citeqa"):
        QueryEngine(FakeRetriever(fake_index(entities=False), []), embedder, 0.4)
        QueryEngine(FakeRetriever(fake_index(entities=False), []), embedder, 0.4, FakeReader({}))

    assert len(caplog.records) == 1  # only without the reader
    assert "CITEQA_INDEX_ENTITIES=true" in caplog.records[0].getMessage()


def test_make_engine_reads_the_thresholds_and_the_reader_from_the_settings() -> None:
    settings = Settings(_env_file=None, reader_passages=2, reader_typed_rules=False)  # type: ignore[call-arg]
    retriever = FakeRetriever(fake_index(), extradition_passages())
    embedder, _ = fake_embedder()

    with_reader = make_engine(settings, retriever, embedder, FakeReader({"92": 8.0}))
    model_free = make_engine(settings, retriever, embedder, None)

    assert with_reader.retriever is retriever
    assert with_reader.abstain_threshold == READER_ABSTAIN_THRESHOLD
    assert isinstance(with_reader.extractor, ReaderExtractor)
    assert (with_reader.extractor.passages, with_reader.extractor.typed_rules) == (2, False)
    assert model_free.abstain_threshold == EXTRACTOR_ABSTAIN_THRESHOLD
    assert isinstance(model_free.extractor, SpanExtractor)
    chosen = settings.model_copy(update={"abstain_threshold": 0.5})
    assert make_engine(chosen, retriever, embedder, None).abstain_threshold == 0.5


def test_a_reader_folder_with_its_own_calibration_abstains_by_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    retriever = FakeRetriever(fake_index(), extradition_passages())
    embedder, _ = fake_embedder()
    own = {"features": list(FEATURES), "weights": [0.5] * len(FEATURES), "bias": -1.0}
    (tmp_path / "abstention.json").write_text(json.dumps(own | {"calibrated_threshold": 0.8}))
    settings = Settings(_env_file=None, reader_model=str(tmp_path))  # type: ignore[call-arg]

    engine = make_engine(settings, retriever, embedder, FakeReader({"92": 8.0}))
    chosen = settings.model_copy(update={"abstain_threshold": 0.3})

    assert engine.abstention is not None and engine.abstention.bias == -1.0
    assert engine.abstain_threshold == 0.8  # fitted with those weights
    assert make_engine(chosen, retriever, embedder, FakeReader({})).abstain_threshold == 0.3
    # Without a file of its own, the shipped reader's weights stand in, and the log says so.
    (tmp_path / "abstention.json").unlink()
    with caplog.at_level(logging.WARNING, logger="citeqa"):
        fallback = make_engine(settings, retriever, embedder, FakeReader({}))
    assert fallback.abstention == load_model(MODEL_PATH)
    assert fallback.abstain_threshold == READER_ABSTAIN_THRESHOLD
    assert "has no abstention.json of its own" in caplog.text and "--write" in caplog.text
