"""The abstention model: its features, its weights file and its probability."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citeqa.config import READER_ABSTAIN_THRESHOLD
from citeqa.types import Candidate, Chunk, Hit, Passage, ScoredSentence
from indexer.terms import CorpusStats
from service.answering.abstention import (
    FEATURES,
    MODEL_PATH,
    AbstentionModel,
    Evidence,
    calibration_for,
    features,
    load_model,
    question_evidence,
    question_names,
)

TEXT = "To date, Mexico has extradited 92 people to the United States."
STATS = CorpusStats.of_texts([TEXT, "Guatemala sent 12 people north."])


def _passage(dense: float) -> Passage:
    sentence = ScoredSentence(0, "d", 0, len(TEXT), TEXT, 0.6, 0.8, 0.7)
    return Passage(Hit(Chunk("d", 0, 0, len(TEXT), TEXT), 1.0, dense_score=dense), 1.0, (sentence,))


def _answer(passage: Passage) -> Candidate:
    start = TEXT.index("92")
    return Candidate("d", start, start + 2, "92", "READER", 0.9, passage.sentences[0])


def _evidence(question: str, passages: list[Passage], candidates: list[Candidate]) -> Evidence:
    return question_evidence(question, "how_many", passages, candidates, STATS, floor=0.4)


def _row(question: str, passage: Passage, witnesses: int, runner_up: float) -> list[float]:
    answer = _answer(passage)
    evidence = _evidence(question, [passage], [answer])
    return features(question, answer, witnesses, runner_up, [passage], evidence)


def test_features_read_the_passage_that_holds_the_answer() -> None:
    passage = _passage(0.7)

    found = _row("How many has Mexico extradited?", passage, 2, 0.5)
    row = dict(zip(FEATURES, found, strict=True))

    assert row["reader"] == 0.9 and row["best_dense"] == 0.7
    assert row["passage_coverage"] == 1.0  # "mexico", "extradit" are both there
    assert row["name_coverage"] == 1.0 and row["has_names"] == 1.0
    assert row["witnesses"] == 2 and row["runner_up_gap"] == pytest.approx(0.4)
    assert row["idf_coverage"] == 1.0 and row["unseen_share"] == 0.0
    assert row["answer_words"] == 1.0 and row["answer_rank"] == 0.0


def test_evidence_reads_the_question_as_a_whole() -> None:
    first, second = _passage(0.7), _passage(0.5)
    answer = _answer(first)
    weak = Candidate("e", 0, 2, "To", "READER", 0.1, first.sentences[0])
    date = Candidate("e", 0, 2, "To", "DATE", 2.0, first.sentences[0])
    passages = [first, second, second, second, second]

    evidence = question_evidence(
        "Who extradited 92 people?", "who", passages, [answer, weak, date], STATS, floor=0.4
    )
    row = dict(zip(FEATURES[-len(evidence.values) :], evidence.values, strict=True))

    assert row["top_dense"] == 0.7 and row["dense_drop"] == pytest.approx(0.2)
    assert row["reader_second"] == 0.1  # the byline date is not the reader's
    assert row["reader_top3"] == pytest.approx(0.5)
    assert row["confident_spans"] == 1.0 and row["confident_documents"] == 1.0
    assert row["asks_who"] == 1.0 and row["asks_when"] == 0.0
    assert row["best_idf_coverage"] > 0.0


def test_words_no_chunk_holds_are_unseen() -> None:
    passage = _passage(0.7)

    row = _row("How many has Honduras deported?", passage, 1, 0.0)

    assert row[FEATURES.index("unseen_share")] == 1.0


def test_a_name_the_passage_lacks_lowers_name_coverage() -> None:
    passage = _passage(0.7)

    row = _row("How many has Guatemala extradited?", passage, 1, 0.0)

    assert row[FEATURES.index("name_coverage")] == 0.0
    assert row[FEATURES.index("idf_coverage")] < 1.0
    assert question_names("How many has Guatemala extradited?") == ["guatemala"]


def test_probability_rises_with_a_positively_weighted_feature() -> None:
    weights = tuple(1.0 if name == "passage_coverage" else 0.0 for name in FEATURES)
    model = AbstentionModel(weights, -0.5)
    low = [0.0] * len(FEATURES)
    high = [1.0 if name == "passage_coverage" else 0.0 for name in FEATURES]

    assert model.probability(low) < 0.5 < model.probability(high)


def test_a_weights_file_for_other_features_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "abstention.json"
    path.write_text(json.dumps({"features": ["reader"], "weights": [1.0], "bias": 0.0}))

    with pytest.raises(ValueError, match="calibrate_abstention"):
        load_model(path)


def test_the_shipped_weights_load() -> None:
    model = load_model()

    assert len(model.weights) == len(FEATURES)


def test_a_reader_folder_calibration_is_read_with_its_threshold(tmp_path: Path) -> None:
    assert calibration_for(tmp_path) == MODEL_PATH  # none of its own: the shipped weights
    own = {"features": list(FEATURES), "weights": [0.0] * len(FEATURES), "bias": 1.0}
    (tmp_path / "abstention.json").write_text(json.dumps(own | {"calibrated_threshold": 0.6}))

    model = load_model(calibration_for(tmp_path))

    assert calibration_for(tmp_path) == tmp_path / "abstention.json"
    assert (model.bias, model.threshold) == (1.0, 0.6)
    # The shipped file's threshold is the one the settings fall back on: one value, not two.
    assert load_model().threshold == READER_ABSTAIN_THRESHOLD
