"""The project's own gold JSONL format."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from eval.datasets.dataset import GoldQuestion
from eval.datasets.files import BenchmarkRow, iter_jsonl
from eval.errors import DatasetError


class GoldRow(BenchmarkRow):
    """One line of the project's gold JSONL file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str]
    doc_ids: list[str]
    evidence: str | None = None
    type: str | None = None


def load_gold(path: str | Path) -> list[GoldQuestion]:
    """Load the project's gold JSONL: ``{id, question, answers, doc_ids, evidence?, type?}``.

    An empty ``answers`` list marks an unanswerable question.

    Example:
        >>> questions = load_gold(Path(__file__).parents[1] / "gold" / "seeds.jsonl")
        >>> questions[0].answerable
        True
    """
    path = Path(path)
    questions: list[GoldQuestion] = []
    seen: dict[str, int] = {}
    for number, row in iter_jsonl(path, GoldRow, "gold JSONL file"):
        if row.id in seen:
            raise DatasetError(
                f"{path}, line {number}: id {row.id!r} already used on line {seen[row.id]}; "
                "give every question a unique id"
            )
        seen[row.id] = number
        questions.append(
            GoldQuestion(
                id=row.id,
                question=row.question,
                answers=tuple(row.answers),
                doc_ids=tuple(row.doc_ids),
                evidence=row.evidence,
                question_type=row.type,
            )
        )
    if not questions:
        raise DatasetError(f"{path}: no questions found; add one JSON object per line")
    return questions
