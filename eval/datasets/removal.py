"""Open-corpus sets with part of the corpus taken away: the questions it held lose their answer.

This mirrors a user whose corpus lacks the article a question is about. A question whose
gold documents were all removed must be abstained on; the others must still be answered.
"""

from __future__ import annotations

import random
from dataclasses import replace

from citeqa.types import Document
from eval.datasets.dataset import Dataset


def article_key(document: Document) -> str:
    """The article a document belongs to: its URL or title (SQuAD paragraphs share them)."""
    return document.url or document.title or document.doc_id


def remove_articles(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """``dataset`` without a ``fraction`` of its articles, drawn with ``seed``.

    Questions about a removed article become unanswerable (no answers, no gold documents);
    the removed answers are kept nowhere, so scoring cannot credit them.

    Raises:
        ValueError: ``fraction`` is outside [0, 1) or the dataset has no documents.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    if not dataset.documents:
        raise ValueError(
            f"{dataset.name} has no documents of its own (its corpus is a folder): "
            "removing articles needs a SQuAD, RGB or BEIR set"
        )
    articles = sorted({article_key(d) for d in dataset.documents})
    removed = set(random.Random(seed).sample(articles, round(fraction * len(articles))))
    kept = tuple(d for d in dataset.documents if article_key(d) not in removed)
    kept_ids = {d.doc_id for d in kept}
    questions = []
    for question in dataset.questions:
        if question.doc_ids and not set(question.doc_ids) & kept_ids:
            question = replace(question, answers=(), doc_ids=(), evidence=None, relevance={})
        questions.append(question)
    name = f"{dataset.name}-minus{round(fraction * 100)}pct-seed{seed}"
    return replace(dataset, name=name, documents=kept, questions=tuple(questions))
