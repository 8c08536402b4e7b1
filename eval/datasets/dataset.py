"""The dataset types every loader returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
