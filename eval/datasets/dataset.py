"""The dataset types every loader returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from citeqa.types import Document

FORMATS = ("gold", "squad", "beir", "rgb")
# BEIR questions carry this type: they have relevance judgments but no answer text.
RETRIEVAL_ONLY = "retrieval"


@dataclass(frozen=True)
class GoldQuestion:
    """A question with its gold answers and the documents that hold them.

    ``relevance`` maps doc_id to a graded relevance; left empty, it is derived from
    ``doc_ids`` with grade 1. ``fake_answers`` are the counterfactual answers of RGB.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    doc_ids: tuple[str, ...]
    evidence: str | None = None
    question_type: str | None = None
    fake_answers: tuple[str, ...] = ()
    relevance: Mapping[str, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        grades = dict(self.relevance) or dict.fromkeys(self.doc_ids, 1)
        object.__setattr__(self, "relevance", MappingProxyType(grades))

    @property
    def answerable(self) -> bool:
        """True when the question has an answer (or, for retrieval-only sets, relevant docs)."""
        if self.question_type == RETRIEVAL_ONLY:
            return any(grade > 0 for grade in self.relevance.values())
        return bool(self.answers)


@dataclass(frozen=True)
class Dataset:
    """Questions plus the corpus to search (empty when the corpus is a folder given apart)."""

    name: str
    documents: tuple[Document, ...]
    questions: tuple[GoldQuestion, ...]
    kind: str
    has_answers: bool


def spread_indices(total: int, limit: int | None) -> range | list[int]:
    """Which of ``total`` questions ``citeqa eval --limit`` asks: an even spread over the
    whole set (the first N would all come from the first few articles), or all of them.

    >>> spread_indices(10, 4)
    [0, 2, 5, 7]
    """
    if limit is None or total <= limit:
        return range(total)
    return [int(i * total / limit) for i in range(limit)]


def spread(dataset: Dataset, limit: int | None) -> Dataset:
    """The dataset with only the questions ``citeqa eval --limit`` asks."""
    picked = spread_indices(len(dataset.questions), limit)
    return replace(dataset, questions=tuple(dataset.questions[i] for i in picked))


def held_out(dataset: Dataset, limit: int) -> Dataset:
    """The dataset without the questions ``citeqa eval --limit`` asks: what a model can be
    fitted on while that evaluation stays on questions it never saw."""
    asked = set(spread_indices(len(dataset.questions), limit))
    kept = (q for i, q in enumerate(dataset.questions) if i not in asked)
    return replace(dataset, questions=tuple(kept))
