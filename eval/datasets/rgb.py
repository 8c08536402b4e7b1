"""RGB counterfactual JSONL: true and fake answers with their snippets."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from citeqa.types import Document
from eval.datasets.dataset import Dataset, GoldQuestion
from eval.datasets.files import BenchmarkRow, iter_jsonl

AnswerVariants = str | list[str | list[str]]


class RgbRow(BenchmarkRow):
    id: int
    query: str
    answer: AnswerVariants
    fakeanswer: AnswerVariants = ""
    positive: list[str]
    positive_wrong: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)


def _flatten(variants: AnswerVariants) -> tuple[str, ...]:
    if isinstance(variants, str):
        return (variants,) if variants else ()
    flat = (text for item in variants for text in ([item] if isinstance(item, str) else item))
    return tuple(dict.fromkeys(flat))


def load_rgb(path: str | Path, limit: int | None = None) -> Dataset:
    """Load RGB counterfactual JSONL: every snippet is a Document, shared across queries.

    Snippet ids are ``rgbNNN-posI`` / ``-wrongI`` / ``-negI`` (NNN: the row's ``id``); a
    snippet text seen before keeps its first id, so a question's ``doc_ids`` (its positive
    snippets) may point at another row's snippet.
    """
    path = Path(path)
    ids_by_text: dict[str, str] = {}
    questions: list[GoldQuestion] = []
    for _, row in iter_jsonl(path, RgbRow, "RGB JSONL file"):
        if limit is not None and len(questions) >= limit:
            break
        groups = {"pos": row.positive, "wrong": row.positive_wrong, "neg": row.negative}
        for role, snippets in groups.items():
            for index, snippet in enumerate(snippets):
                ids_by_text.setdefault(snippet, f"rgb{row.id:03d}-{role}{index}")
        positive_ids = dict.fromkeys(ids_by_text[snippet] for snippet in row.positive)
        questions.append(
            GoldQuestion(
                id=f"rgb{row.id:03d}",
                question=row.query,
                answers=_flatten(row.answer),
                doc_ids=tuple(positive_ids),
                fake_answers=_flatten(row.fakeanswer),
            )
        )
    documents = tuple(
        Document(doc_id=doc_id, text=text, path=str(path)) for text, doc_id in ids_by_text.items()
    )
    name = f"{path.parent.name}-{path.stem}"
    return Dataset(name, documents, tuple(questions), "rgb", has_answers=True)
