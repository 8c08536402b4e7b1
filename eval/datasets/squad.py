"""SQuAD v1.1 JSON, open-corpus: every paragraph becomes a document."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pydantic import ValidationError

from citeqa.types import Document
from eval.datasets.dataset import Dataset, GoldQuestion
from eval.datasets.files import BenchmarkRow, describe_errors, read_text
from eval.errors import DatasetError
from indexer.dates import date_from_url


class SquadAnswer(BenchmarkRow):
    text: str
    answer_start: int


class SquadQuestion(BenchmarkRow):
    id: str
    question: str
    answers: list[SquadAnswer]


class SquadParagraph(BenchmarkRow):
    context: str
    qas: list[SquadQuestion]


class SquadArticle(BenchmarkRow):
    title: str
    paragraphs: list[SquadParagraph]


class SquadFile(BenchmarkRow):
    data: list[SquadArticle]


def _published_from_url(url: str) -> str | None:
    published = date_from_url(urlparse(url).path)
    return published.isoformat() if published else None


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
        squad = SquadFile.model_validate_json(read_text(path, "SQuAD v1.1 JSON file"))
    except ValidationError as error:
        raise DatasetError(
            f"{path}: not SQuAD v1.1 JSON ({describe_errors(error)[:500]}); "
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
