"""BEIR folders: corpus.jsonl, queries.jsonl and qrels/*.tsv (retrieval only)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from citeqa.types import Document
from eval.datasets.dataset import RETRIEVAL_ONLY, Dataset, GoldQuestion
from eval.datasets.files import BenchmarkRow, iter_jsonl, read_text
from eval.errors import DatasetError


class BeirDocument(BenchmarkRow):
    id: str = Field(alias="_id", min_length=1)
    title: str = ""
    text: str


class BeirQuery(BenchmarkRow):
    id: str = Field(alias="_id", min_length=1)
    text: str


def _beir_qrels_path(folder: Path, split: str | None) -> Path:
    available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
    if split is not None:
        if split not in available:
            raise DatasetError(
                f"{folder}: no qrels/{split}.tsv; choose a split from {available or 'none found'}"
            )
        return folder / "qrels" / f"{split}.tsv"
    if len(available) != 1:
        raise DatasetError(
            f"{folder}: found qrels splits {available or 'none'}; pass split= to choose exactly one"
        )
    return folder / "qrels" / f"{available[0]}.tsv"


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(read_text(path, "BEIR qrels TSV file").splitlines(), start=1):
        row = [part.strip() for part in line.split("\t")]
        if not line.strip() or (number == 1 and row[-1] == "score"):
            continue
        if len(row) != 3 or not row[2].lstrip("-").isdigit():
            raise DatasetError(
                f"{path}, line {number}: expected 'query-id<TAB>corpus-id<TAB>integer score', "
                f"got {line!r}; fix this line"
            )
        qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_beir(
    folder: str | Path, split: str | None = None, limit_queries: int | None = None
) -> Dataset:
    """Load a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv); retrieval only.

    Only queries with qrels are kept; a document is relevant when its qrels score is > 0.
    ``split=None`` uses the single qrels file present.
    """
    folder = Path(folder)
    qrels = _read_qrels(_beir_qrels_path(folder, split))
    documents = tuple(
        Document(
            doc_id=row.id,
            text=f"{row.title}\n\n{row.text}" if row.title else row.text,
            title=row.title or None,
            path=str(folder / "corpus.jsonl"),
        )
        for _, row in iter_jsonl(folder / "corpus.jsonl", BeirDocument, "BEIR corpus.jsonl")
    )
    questions: list[GoldQuestion] = []
    for _, query in iter_jsonl(folder / "queries.jsonl", BeirQuery, "BEIR queries.jsonl"):
        if limit_queries is not None and len(questions) >= limit_queries:
            break
        relevance = {doc: grade for doc, grade in qrels.get(query.id, {}).items() if grade > 0}
        if relevance:
            questions.append(
                GoldQuestion(
                    id=query.id,
                    question=query.text,
                    answers=(),
                    doc_ids=tuple(relevance),
                    question_type=RETRIEVAL_ONLY,
                    relevance=relevance,
                )
            )
    return Dataset(folder.name, documents, tuple(questions), "beir", has_answers=False)
