"""Run a dataset's questions through one or more configurations and collect the scores."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from citeqa.config import Settings
from eval.datasets import Dataset, GoldQuestion
from eval.metrics import abstention_metrics, percentile, retrieval_metrics
from eval.predictions import Answerer
from eval.scoring import QuestionScore, document_ranking, passage_is_relevant, score_question
from service.retrieval.retriever import RetrievalOptions
from service.schemas import QueryResponse

CONFIGURATIONS: dict[str, RetrievalOptions] = {
    "bm25": RetrievalOptions(mode="bm25", rescore=False, dedup=False),
    "dense": RetrievalOptions(mode="dense", rescore=False, dedup=False),
    "hybrid": RetrievalOptions(mode="hybrid", rescore=False, dedup=False),
    "hybrid+rescore": RetrievalOptions(mode="hybrid", rescore=True, dedup=False),
    "hybrid+rescore+dedup": RetrievalOptions(mode="hybrid", rescore=True, dedup=True),
}
DEFAULT_CONFIGURATION = "hybrid+rescore+dedup"
RECALL_CUTOFFS = (1, 2, 3, 5, 10, 20)
RETRIEVAL_METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


@dataclass
class ConfigurationResult:
    name: str
    scores: list[QuestionScore]
    passage_metrics: dict[str, float]
    document_metrics: dict[str, float]
    answer_metrics: dict[str, float]
    recall_curve: dict[int, float]
    latency_ms: dict[str, dict[str, float]]
    rgb_metrics: dict[str, float] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)


def dataset_fingerprint(dataset: Dataset) -> str:
    """A short hash of the dataset's documents, naming the index built from them."""
    digest = hashlib.sha256()
    for document in dataset.documents:
        digest.update(document.doc_id.encode())
        digest.update(hashlib.sha256(document.text.encode()).digest())
    return digest.hexdigest()[:16]


def _passage_run(
    questions: Sequence[GoldQuestion], predictions: Sequence[QueryResponse]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """qrels/run where every relevant passage is one item: recall@k is top-k accuracy."""
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for question, prediction in zip(questions, predictions, strict=True):
        qrels[question.id] = {"relevant": 1}
        ranking: dict[str, float] = {}
        for rank, passage in enumerate(prediction.passages, start=1):
            # A passage is told apart by its document and where it starts there, the same
            # whether the answer came from the engine or from a running service.
            key = (
                "relevant"
                if passage_is_relevant(question, passage)
                else f"{passage.doc_id}@{passage.char_start}"
            )
            if key not in ranking:
                ranking[key] = 1.0 / rank
        run[question.id] = ranking
    return qrels, run


def _document_run(
    questions: Sequence[GoldQuestion], predictions: Sequence[QueryResponse]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    qrels = {q.id: dict(q.relevance) for q in questions}
    run = {
        q.id: {d: 1.0 / rank for rank, d in enumerate(document_ranking(p), start=1)}
        for q, p in zip(questions, predictions, strict=True)
    }
    return qrels, run


def _answer_metrics(scores: Sequence[QuestionScore]) -> dict[str, float]:
    answerable = [s for s in scores if s.exact_match is not None]
    # Counts stay ints, so reports print "85", not "85.000".
    metrics: dict[str, float] = {"answerable": len(answerable)}
    if answerable:
        metrics["exact_match"] = sum(s.exact_match or 0.0 for s in answerable) / len(answerable)
        metrics["f1"] = sum(s.f1 or 0.0 for s in answerable) / len(answerable)
    if answerable:
        # Abstaining where the corpus holds the answer, and flagging a disagreement on a
        # question whose gold answer has one source (every answerable SQuAD question).
        metrics["false_abstention"] = sum(s.prediction is None for s in answerable) / len(
            answerable
        )
        metrics["sources_disagree"] = sum(s.sources_disagree for s in answerable) / len(answerable)
    if any(not s.answerable for s in scores):
        abstention = abstention_metrics(
            [s.prediction is not None for s in scores], [s.answerable for s in scores]
        )
        metrics["unanswerable"] = abstention.unanswerable
        metrics["abstention_precision"] = abstention.precision
        metrics["abstention_recall"] = abstention.recall
    return metrics


def _rgb_metrics(scores: Sequence[QuestionScore]) -> dict[str, float]:
    if not scores:
        return {}
    both = [s for s in scores if s.both_in_passages]
    metrics = {
        "true_answer_returned": sum(s.true_returned for s in scores) / len(scores),
        "fake_answer_returned": sum(s.fake_returned for s in scores) / len(scores),
        "queries_with_both_answers_retrieved": len(both),
    }
    if both:
        metrics["disagreement_flagged_when_both"] = sum(s.sources_disagree for s in both) / len(
            both
        )
        # Stricter: flagged, and the true and the altered value are both in the response.
        metrics["both_values_flagged_when_both"] = sum(
            s.sources_disagree and s.true_returned and s.fake_returned for s in both
        ) / len(both)
    return metrics


def _latency(predictions: Sequence[QueryResponse]) -> dict[str, dict[str, float]]:
    stages = sorted({stage for p in predictions for stage in p.timings_ms})
    return {
        stage: {
            "p50": percentile([p.timings_ms.get(stage, 0.0) for p in predictions], 50),
            "p95": percentile([p.timings_ms.get(stage, 0.0) for p in predictions], 95),
        }
        for stage in stages
    }


def evaluate_configuration(
    name: str,
    dataset: Dataset,
    answerer: Answerer,
    depth: int = 20,
    top_k: int = 5,
    progress: Callable[[], None] | None = None,
) -> ConfigurationResult:
    """Ask every question, then score retrieval, answers, abstention, RGB and latency."""
    questions = list(dataset.questions)
    predictions = []
    for question in questions:
        predictions.append(answerer.predict(question.question, depth))
        if progress is not None:
            progress()
    scores = [score_question(q, p, top_k) for q, p in zip(questions, predictions, strict=True)]
    answerable = [i for i, q in enumerate(questions) if q.relevance]
    kept_q = [questions[i] for i in answerable]
    kept_p = [predictions[i] for i in answerable]
    passage_metrics: dict[str, float] = {}
    document_metrics: dict[str, float] = {}
    curve: dict[str, float] = {}
    if kept_q:
        qrels, run = _passage_run(kept_q, kept_p)
        if dataset.has_answers:
            passage_metrics = retrieval_metrics(qrels, run, RETRIEVAL_METRICS)
            curve = retrieval_metrics(qrels, run, [f"recall@{k}" for k in RECALL_CUTOFFS])
        document_metrics = retrieval_metrics(*_document_run(kept_q, kept_p), RETRIEVAL_METRICS)
        if not curve:
            curve = retrieval_metrics(
                *_document_run(kept_q, kept_p), [f"recall@{k}" for k in RECALL_CUTOFFS]
            )
    failures: dict[str, int] = {}
    for score in scores:
        failures[score.failure] = failures.get(score.failure, 0) + 1
    return ConfigurationResult(
        name=name,
        scores=scores,
        passage_metrics=passage_metrics,
        document_metrics=document_metrics,
        answer_metrics=_answer_metrics(scores) if dataset.has_answers else {},
        recall_curve={int(k.split("@")[1]): v for k, v in curve.items()},
        latency_ms=_latency(predictions),
        rgb_metrics=_rgb_metrics(scores) if dataset.kind == "rgb" else {},
        failures=failures if dataset.has_answers else {},
    )


def index_dir_for(dataset: Dataset, out: Path, settings: Settings) -> Path:
    """Where the dataset's index lives: reused while the corpus and settings are the same."""
    key = f"{dataset.name}-{dataset_fingerprint(dataset)}-{settings.chunk_size_tokens}"
    return out / "indexes" / key
