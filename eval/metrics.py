"""Scores for the harness: SQuAD answer EM/F1, ranx retrieval metrics, abstention, latency.

Answer scoring follows the official SQuAD v1.1 evaluation script exactly (its
normalisation strips ASCII punctuation only), so numbers compare with published ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ranx import Qrels, Run, evaluate

# The official SQuAD v1.1 normalisation (ASCII punctuation only), shared with the service.
from citeqa.text import normalize_answer as normalize_answer

DEFAULT_RETRIEVAL_METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def _check_golds(golds: Sequence[str]) -> None:
    if isinstance(golds, str):
        raise ValueError("golds must be a list of gold answers, not one string; wrap it in [...]")
    if not golds:
        raise ValueError(
            "no gold answers: score unanswerable questions with abstention_metrics instead"
        )


def _f1(prediction: str, gold: str) -> float:
    predicted_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = sum((Counter(predicted_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str | None, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer, else 0.0.

    A ``None`` prediction (the system abstained) scores like an empty string.

    Example:
        >>> exact_match("the Broncos", ["Denver Broncos", "Broncos"])
        1.0
    """
    _check_golds(golds)
    predicted = normalize_answer(prediction or "")
    return float(any(predicted == normalize_answer(gold) for gold in golds))


def token_f1(prediction: str | None, golds: Sequence[str]) -> float:
    """Best token-overlap F1 between the prediction and any gold answer (SQuAD v1.1).

    Example:
        >>> round(token_f1("Denver Broncos team", ["Denver Broncos"]), 3)
        0.8
    """
    _check_golds(golds)
    return max(_f1(prediction or "", gold) for gold in golds)


def retrieval_metrics(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = DEFAULT_RETRIEVAL_METRICS,
) -> dict[str, float]:
    """Mean of each ranx metric over the queries of ``qrels`` that have a relevant document.

    A query missing from ``run`` or with an empty ranking scores 0; queries in ``run`` but
    not in ``qrels`` are ignored. Queries whose judgments are all 0 cannot be scored (recall
    would divide by zero) and are left out.

    Example:
        >>> retrieval_metrics({"q1": {"d1": 1}}, {"q1": {"d2": 0.9, "d1": 0.5}}, ["mrr@10"])
        {'mrr@10': 0.5}
    """
    if isinstance(metrics, str) or not metrics:
        raise ValueError('metrics must be a non-empty list of names such as ["ndcg@10"]')
    judged = {
        query: {doc: int(grade) for doc, grade in docs.items()}
        for query, docs in qrels.items()
        if any(grade > 0 for grade in docs.values())
    }
    if not judged:
        raise ValueError(
            "qrels has no query with a relevant document (grade > 0); nothing to score"
        )
    # ranx cannot build a Run from an empty ranking: leave those out and let
    # make_comparable add them back as empty results, which score 0.
    ranked = {
        query: {doc: float(score) for doc, score in docs.items()}
        for query, docs in run.items()
        if docs and query in judged
    }
    ranx_qrels = Qrels(judged)
    ranx_run = (Run(ranked) if ranked else Run()).make_comparable(ranx_qrels)
    scores = evaluate(ranx_qrels, ranx_run, list(metrics))
    # ranx returns a bare number when asked for a single metric.
    if not isinstance(scores, dict):
        return {metrics[0]: float(scores)}
    return {name: float(value) for name, value in scores.items()}


@dataclass(frozen=True)
class AbstentionScores:
    """How well the system abstains on unanswerable questions (positive class: abstain)."""

    precision: float  # of the abstentions, the share on unanswerable questions
    recall: float  # of the unanswerable questions, the share abstained on
    f1: float
    total: int
    abstained: int
    unanswerable: int
    correct_abstentions: int


def abstention_metrics(answered: Sequence[bool], answerable: Sequence[bool]) -> AbstentionScores:
    """Precision and recall of abstaining, treating "unanswerable" as the positive class.

    A ratio with a zero denominator (no abstentions, or no unanswerable questions) is 0.0;
    the counts tell those cases apart.

    Example:
        >>> abstention_metrics([True, False, False], [True, False, True]).precision
        0.5
    """
    if len(answered) != len(answerable):
        raise ValueError(
            f"answered has {len(answered)} items but answerable has {len(answerable)}; "
            "pass one flag per question to each"
        )
    abstained = sum(not flag for flag in answered)
    unanswerable = sum(not flag for flag in answerable)
    correct = sum(not a and not b for a, b in zip(answered, answerable, strict=True))
    precision = correct / abstained if abstained else 0.0
    recall = correct / unanswerable if unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return AbstentionScores(
        precision, recall, f1, len(answered), abstained, unanswerable, correct_abstentions=correct
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation) of ``values``, e.g. p95 latency.

    Example:
        >>> percentile([10.0, 20.0, 30.0, 40.0], 50)
        25.0
    """
    if len(values) == 0:
        raise ValueError("no values to take a percentile of; time at least one request")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    return float(np.percentile(np.asarray(values, dtype=float), q))
