"""Load evaluation sets (project gold JSONL, SQuAD v1.1, BEIR, RGB) into one `Dataset` type.

Every loader validates the file at the edge with pydantic and raises `DatasetError` naming
the file (and line, for JSONL) and what to fix. Benchmark files are read in place: the
harness takes a path, nothing is copied into the repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citeqa.types import Document
from eval.errors import DatasetError

FORMATS = ("gold", "squad", "beir", "rgb")
# BEIR questions carry this type: they have relevance judgments but no answer text.
RETRIEVAL_ONLY = "retrieval"
_URL_DATE = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/")

Row = TypeVar("Row", bound=BaseModel)


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


class _Row(BaseModel):
    # Benchmark files carry extra fields (SQuADShifts "split", BEIR "metadata"): ignore them.
    model_config = ConfigDict(extra="ignore", frozen=True)


class GoldRow(_Row):
    """One line of the project's gold JSONL file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str]
    doc_ids: list[str]
    evidence: str | None = None
    type: str | None = None


class SquadAnswer(_Row):
    text: str
    answer_start: int


class SquadQuestion(_Row):
    id: str
    question: str
    answers: list[SquadAnswer]


class SquadParagraph(_Row):
    context: str
    qas: list[SquadQuestion]


class SquadArticle(_Row):
    title: str
    paragraphs: list[SquadParagraph]


class SquadFile(_Row):
    data: list[SquadArticle]


class BeirDocument(_Row):
    id: str = Field(alias="_id", min_length=1)
    title: str = ""
    text: str


class BeirQuery(_Row):
    id: str = Field(alias="_id", min_length=1)
    text: str


AnswerVariants = str | list[str | list[str]]


class RgbRow(_Row):
    id: int
    query: str
    answer: AnswerVariants
    fakeanswer: AnswerVariants = ""
    positive: list[str]
    positive_wrong: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'row'}: {item['msg']}"
        for item in error.errors()
    )


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; pass the path of a {what}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot be read as UTF-8 text ({error}); re-save it") from error


def _iter_jsonl(path: Path, model: type[Row], what: str) -> Iterator[tuple[int, Row]]:
    """Yield (line number, validated row) for every non-blank line of a JSONL file."""
    for number, line in enumerate(_read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, model.model_validate_json(line)
        except ValidationError as error:
            raise DatasetError(
                f"{path}, line {number}: {_describe(error)}. Fix this line of the {what}"
            ) from error


def load_gold(path: str | Path) -> list[GoldQuestion]:
    """Load the project's gold JSONL: ``{id, question, answers, doc_ids, evidence?, type?}``.

    An empty ``answers`` list marks an unanswerable question.

    Example:
        >>> questions = load_gold("eval/gold/seeds.jsonl")  # doctest: +SKIP
        >>> questions[0].answerable  # doctest: +SKIP
        True
    """
    path = Path(path)
    questions: list[GoldQuestion] = []
    seen: dict[str, int] = {}
    for number, row in _iter_jsonl(path, GoldRow, "gold JSONL file"):
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


def _published_from_url(url: str) -> str | None:
    match = _URL_DATE.search(urlparse(url).path)
    return "-".join(match.groups()) if match else None


def _squad_document(doc_id: str, title: str, context: str, path: Path) -> Document:
    url = title if title.startswith(("http://", "https://")) else None
    return Document(
        doc_id=doc_id,
        text=context,
        title=title,
        source=urlparse(url).netloc.removeprefix("www.") if url else None,
        published=_published_from_url(url) if url else None,
        url=url,
        path=str(path),
    )


def load_squad(path: str | Path, limit_articles: int | None = None) -> Dataset:
    """Load a SQuAD v1.1 JSON file for open-corpus evaluation.

    Every paragraph becomes a Document (id ``AAAA-PPP``: article and paragraph index) and
    every question's gold document is the paragraph it was written on. When an article
    title is a URL (SQuADShifts NYT), it is also the url and its /YYYY/MM/DD/ the date.
    """
    path = Path(path)
    try:
        squad = SquadFile.model_validate_json(_read_text(path, "SQuAD v1.1 JSON file"))
    except ValidationError as error:
        raise DatasetError(
            f"{path}: not SQuAD v1.1 JSON ({_describe(error)[:500]}); "
            "pass a file with data[].paragraphs[].qas[]"
        ) from error
    documents: list[Document] = []
    questions: list[GoldQuestion] = []
    for article_index, article in enumerate(squad.data[:limit_articles]):
        for paragraph_index, paragraph in enumerate(article.paragraphs):
            doc_id = f"{article_index:04d}-{paragraph_index:03d}"
            documents.append(_squad_document(doc_id, article.title, paragraph.context, path))
            questions.extend(
                GoldQuestion(
                    id=qa.id,
                    question=qa.question,
                    answers=tuple(dict.fromkeys(answer.text for answer in qa.answers)),
                    doc_ids=(doc_id,),
                )
                for qa in paragraph.qas
            )
    name = f"{path.parent.name}-{path.stem}"
    return Dataset(name, tuple(documents), tuple(questions), "squad", has_answers=True)


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
    for number, line in enumerate(_read_text(path, "BEIR qrels TSV file").splitlines(), start=1):
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
        for _, row in _iter_jsonl(folder / "corpus.jsonl", BeirDocument, "BEIR corpus.jsonl")
    )
    questions: list[GoldQuestion] = []
    for _, query in _iter_jsonl(folder / "queries.jsonl", BeirQuery, "BEIR queries.jsonl"):
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
    for _, row in _iter_jsonl(path, RgbRow, "RGB JSONL file"):
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


def _first_json_row(path: Path) -> dict[str, Any]:
    for number, line in enumerate(_read_text(path, "JSONL file").splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}, line {number}: not JSON ({error}); fix it") from error
            return row if isinstance(row, dict) else {}
    raise DatasetError(f"{path}: file is empty; give a JSONL file with one object per line")


def detect_format(path: str | Path) -> str:
    """Guess the format of ``path``: "beir", "squad", "rgb" or "gold"."""
    path = Path(path)
    if path.is_dir():
        if (path / "corpus.jsonl").is_file():
            return "beir"
        raise DatasetError(f"{path}: a folder without corpus.jsonl; give a BEIR folder or a file")
    if path.suffix == ".json":
        try:
            content = json.loads(_read_text(path, "SQuAD JSON file"))
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}: not valid JSON ({error}); fix the file") from error
        if isinstance(content, dict) and "data" in content:
            return "squad"
        raise DatasetError(f"{path}: JSON without a 'data' list; give a SQuAD v1.1 file")
    if path.suffix == ".jsonl":
        row = _first_json_row(path)
        return "rgb" if "fakeanswer" in row or "positive_wrong" in row else "gold"
    raise DatasetError(
        f"{path}: unknown dataset type; give a .jsonl, a SQuAD .json or a BEIR folder"
    )


def load_dataset(path: str | Path, format: str | None = None, limit: int | None = None) -> Dataset:
    """Load any supported dataset, detecting its format unless ``format`` is given.

    ``limit`` caps articles (squad), queries (beir) or questions (gold, rgb). A gold set
    has no documents: the caller indexes the corpus folder it refers to.

    Example:
        >>> dataset = load_dataset("../shared/benchmarks/scifact", limit=20)  # doctest: +SKIP
        >>> dataset.kind, dataset.has_answers  # doctest: +SKIP
        ('beir', False)
    """
    if limit is not None and limit < 1:
        raise DatasetError(f"limit must be at least 1, got {limit}; omit it to load everything")
    path = Path(path)
    kind = format or detect_format(path)
    if kind == "gold":
        questions = tuple(load_gold(path)[:limit])
        return Dataset(path.stem, (), questions, "gold", has_answers=True)
    if kind == "squad":
        return load_squad(path, limit_articles=limit)
    if kind == "beir":
        return load_beir(path, limit_queries=limit)
    if kind == "rgb":
        return load_rgb(path, limit=limit)
    raise DatasetError(f"unknown dataset format {kind!r}; use one of {', '.join(FORMATS)}")
