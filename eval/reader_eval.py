"""Score the span reader alone: each question read against its own gold paragraph.

This separates reading from retrieval: it is the figure a reader's model card reports, and
the check that tokenisation, labels and decoding agree with how the model was trained.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eval.datasets import load_dataset
from eval.errors import DatasetError
from eval.metrics import exact_match, token_f1
from service.reading.reader import SpanReader


@dataclass(frozen=True)
class ReaderScores:
    questions: int
    em: float
    f1: float

    def as_dict(self) -> dict[str, float | int]:
        """The scores as JSON-ready numbers, rounded to four places."""
        return {"questions": self.questions, "em": round(self.em, 4), "f1": round(self.f1, 4)}


def reader_predictions(
    reader: SpanReader, dataset_path: Path, limit: int | None = None, stride: int = 128
) -> Iterator[tuple[str, str | None, tuple[str, ...]]]:
    """Yield ``(question id, predicted span, gold answers)`` for a SQuAD-format file."""
    dataset = load_dataset(dataset_path, "squad")
    contexts = {document.doc_id: document.text for document in dataset.documents}
    for question in dataset.questions[:limit]:
        context = contexts[question.doc_ids[0]]
        spans = reader.read(question.question, [context], spans_per_context=1, stride=stride)
        yield question.id, (spans[0].text if spans else None), question.answers


def evaluate_reader(
    reader: SpanReader,
    dataset_path: Path,
    limit: int | None = None,
    stride: int = 128,
    show_progress: bool = False,
) -> ReaderScores:
    """SQuAD v1.1 EM and F1 (best over the gold answers) with the gold paragraph given.

    Example (needs a SQuAD file outside the repository, so not run as a doctest)::

        evaluate_reader(SpanReader(path, max_length=384), nyt_dev)
        # -> ReaderScores(questions=..., em=..., f1=...): see eval/RESULTS.md
    """
    from rich.progress import track

    predictions = reader_predictions(reader, dataset_path, limit, stride)
    if show_progress:
        predictions = iter(track(predictions, description="reading", transient=True))
    em_total = f1_total = 0.0
    count = 0
    for _, prediction, golds in predictions:
        em_total += exact_match(prediction, golds)
        f1_total += token_f1(prediction, golds)
        count += 1
    if count == 0:
        raise DatasetError(f"{dataset_path} holds no questions")
    return ReaderScores(count, em_total / count, f1_total / count)
