"""Metrics checked against values computed by hand (and the official SQuAD v1.1 rules)."""

from __future__ import annotations

import math
from dataclasses import astuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.metrics import (
    AbstentionScores,
    abstention_metrics,
    exact_match,
    normalize_answer,
    percentile,
    retrieval_metrics,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Quick, Brown fox!", "quick brown fox"),
        ("an apple a day", "apple day"),
        ("theater  and\tthen", "theater and then"),  # articles only as whole words
        ("Denver Broncos.", "denver broncos"),
        ("U.S.-based", "usbased"),  # punctuation is deleted, not replaced by a space
        ("“quoted”", "“quoted”"),  # the official script strips ASCII punctuation only
    ],
)
def test_normalize_answer_follows_the_official_script(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_exact_match_takes_the_best_gold() -> None:
    assert exact_match("the Denver Broncos", ["Carolina Panthers", "denver broncos."]) == 1.0
    assert exact_match("Broncos", ["Denver Broncos"]) == 0.0


def test_token_f1_hand_computed() -> None:
    # prediction tokens {cat, sat}; gold tokens {cat, sat, on, mat}: P=1, R=1/2
    assert token_f1("the cat sat", ["a cat sat on the mat"]) == pytest.approx(2 / 3)
    # repeated tokens count once per gold occurrence: P=1/2, R=1
    assert token_f1("cat cat", ["cat"]) == pytest.approx(2 / 3)
    assert token_f1("cat", ["dog", "the cat"]) == 1.0
    assert token_f1("dog", ["cat"]) == 0.0


def test_none_prediction_scores_zero() -> None:
    assert exact_match(None, ["Paris"]) == 0.0
    assert token_f1(None, ["Paris"]) == 0.0


@pytest.mark.parametrize("scorer", [exact_match, token_f1])
def test_answer_scorers_reject_bad_golds(scorer) -> None:
    with pytest.raises(ValueError, match="abstention_metrics"):
        scorer("Paris", [])
    with pytest.raises(ValueError, match="not one string"):
        scorer("Paris", "Paris")


@given(st.text(min_size=1))
def test_a_prediction_equal_to_the_gold_scores_one(text: str) -> None:
    assert normalize_answer(normalize_answer(text)) == normalize_answer(text)
    assert exact_match(text, [text]) == 1.0
    expected = 1.0 if normalize_answer(text) else 0.0
    assert token_f1(text, [text]) == expected


@given(st.text(), st.lists(st.text(), min_size=1, max_size=3))
def test_f1_is_a_fraction_at_least_exact_match(prediction: str, golds: list[str]) -> None:
    f1 = token_f1(prediction, golds)
    assert 0.0 <= f1 <= 1.0
    if exact_match(prediction, golds) and normalize_answer(prediction):
        assert f1 == 1.0


QRELS = {"q1": {"d1": 1, "d2": 1}, "q2": {"d5": 1}}
RUN = {
    "q1": {"d3": 0.9, "d1": 0.8, "d4": 0.7, "d2": 0.6},
    "q2": {"d5": 0.9, "d6": 0.1},
}
# q1: relevant at ranks 2 and 4; ideal ranks 1 and 2.
Q1_NDCG = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))


def test_retrieval_metrics_on_a_two_query_run() -> None:
    scores = retrieval_metrics(QRELS, RUN)
    assert set(scores) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
    assert scores["recall@1"] == pytest.approx((0 + 1) / 2)
    assert scores["recall@5"] == pytest.approx(1.0)
    assert scores["mrr@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert scores["ndcg@10"] == pytest.approx((Q1_NDCG + 1) / 2)
    assert all(isinstance(value, float) for value in scores.values())


def test_an_empty_or_missing_ranking_counts_as_zero() -> None:
    for run in ({"q1": RUN["q1"], "q2": {}}, {"q1": RUN["q1"]}):
        scores = retrieval_metrics(QRELS, run, ["recall@5", "mrr@10"])
        assert scores == pytest.approx({"recall@5": 0.5, "mrr@10": 0.25})
    # ranx itself cannot build a run where every ranking is empty
    empty_runs: list[dict[str, dict[str, float]]] = [{}, {"q1": {}, "q2": {}}]
    for nothing in empty_runs:
        assert retrieval_metrics(QRELS, nothing, ["ndcg@10"]) == {"ndcg@10": 0.0}


def test_single_query_and_single_metric_return_a_dict() -> None:
    assert retrieval_metrics({"q2": QRELS["q2"]}, RUN, ["mrr@10"]) == {"mrr@10": 1.0}
    scores = retrieval_metrics({"q1": QRELS["q1"]}, RUN, ["recall@1", "ndcg@10"])
    assert scores == pytest.approx({"recall@1": 0.0, "ndcg@10": Q1_NDCG})


def test_graded_relevance_uses_linear_gain() -> None:
    qrels = {"q": {"high": 2, "low": 1}}
    run = {"q": {"low": 0.9, "high": 0.8}}
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert retrieval_metrics(qrels, run, ["ndcg@10"])["ndcg@10"] == pytest.approx(expected)


def test_unjudged_queries_are_left_out() -> None:
    qrels = {**QRELS, "q3": {"d9": 0}}
    run = {**RUN, "q3": {"d9": 1.0}, "extra": {"d1": 1.0}}
    assert retrieval_metrics(qrels, run) == pytest.approx(retrieval_metrics(QRELS, RUN))


def test_retrieval_metrics_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="relevant document"):
        retrieval_metrics({"q": {"d": 0}}, {"q": {"d": 1.0}})
    with pytest.raises(ValueError, match="non-empty list"):
        retrieval_metrics(QRELS, RUN, "ndcg@10")
    with pytest.raises(ValueError, match="non-empty list"):
        retrieval_metrics(QRELS, RUN, [])


def test_abstention_metrics_hand_computed() -> None:
    answered = [True, True, False, False, False]
    answerable = [True, False, False, True, False]
    scores = abstention_metrics(answered, answerable)
    # abstained on 2, 3, 4; unanswerable are 1, 2, 4; correct abstentions: 2 and 4
    assert isinstance(scores, AbstentionScores)
    assert astuple(scores) == pytest.approx((2 / 3, 2 / 3, 2 / 3, 5, 3, 3, 2))
    assert (scores.total, scores.abstained, scores.correct_abstentions) == (5, 3, 2)


def test_abstention_metrics_without_abstentions() -> None:
    scores = abstention_metrics([True, True], [True, False])
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)
    assert (scores.abstained, scores.unanswerable) == (0, 1)
    perfect = abstention_metrics([True, False], [True, False])
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)


def test_abstention_metrics_need_one_flag_per_question() -> None:
    with pytest.raises(ValueError, match="one flag per question"):
        abstention_metrics([True], [True, False])


def test_percentile_interpolates() -> None:
    latencies = [40.0, 10.0, 30.0, 20.0]
    assert percentile(latencies, 50) == 25.0
    assert percentile(latencies, 95) == pytest.approx(38.5)
    assert percentile([7.0], 95) == 7.0


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
