"""Hard negatives for the span reader: what citeqa's own retrieval gives it to read for a
training question, where the answer is not (issue 25, item 6).

    citeqa reader mine --data ../shared/training/squadshifts-new-wiki/train.json \\
        --out runs/negatives.jsonl
    citeqa reader train --data ... --hard-negatives runs/negatives.jsonl --out runs/reader

The recipe's own negatives are other paragraphs of the question's article, picked by place.
When the corpus does not hold an answer, the reader instead sees the passages that retrieval
ranks best for the question: same subject, same names, no answer. Each training file becomes
an index of its paragraphs (one document a paragraph), built and searched as the service
does, and every question's first ``CITEQA_READER_PASSAGES`` passages that do not contain its
answer are written out, to be read as "no answer".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from citeqa.model_cache import file_hash
from citeqa.types import Document
from service.reading.errors import ReaderError
from training.labels import QAExample, SquadFile

if TYPE_CHECKING:
    from citeqa.config import Settings

# A question's id -> the contexts mined for it, the best-ranked first.
HardNegatives = Mapping[str, Sequence[str]]
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class MineReport:
    """How many questions were asked, and how many negatives they gave."""

    questions: int
    negatives: int
    none_found: int  # questions whose every read passage holds the answer text


def holds_answer(context: str, answer: str) -> bool:
    """Whether the answer's words occur in the context, in order, whole words, any case:
    such a passage may answer the question and is no negative.

    >>> holds_answer("Rubio asked Mexico three times.", "three")
    True
    >>> holds_answer("He paid threefold.", "three")
    False
    """
    words = _WORD.findall(answer.lower())
    return bool(words) and f" {' '.join(words)} " in f" {' '.join(_WORD.findall(context.lower()))} "


def paragraph_documents(squad: SquadFile) -> list[Document]:
    """Every paragraph of the file as a document, ``AAAA-PPP`` as the eval's SQuAD corpora."""
    return [
        Document(doc_id=f"{a:04d}-{p:03d}", text=paragraph.context, path=str(squad.path))
        for a, article in enumerate(squad.articles)
        for p, paragraph in enumerate(article)
    ]


def _questions(squad: SquadFile) -> Iterator[QAExample]:
    return (q for article in squad.articles for paragraph in article for q in paragraph.questions)


def mine_negatives(
    files: Sequence[SquadFile],
    out: Path,
    work_dir: Path,
    settings: Settings,
    *,
    show_progress: bool = True,
) -> MineReport:
    """Index each file's paragraphs under ``work_dir``, ask each question, write JSONL rows
    ``{id, question, rank, doc_id, context}`` of the read passages without its answer."""
    from rich.progress import Progress

    from indexer.factory import make_embedder, make_writer
    from indexer.index import load_index
    from service.retrieval.retriever import Retriever

    counts = {"questions": 0, "negatives": 0, "none_found": 0}
    embedder = make_embedder(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as sink, Progress(disable=not show_progress) as bar:
        for squad in files:
            index_dir = work_dir / f"{squad.path.stem}-{file_hash(squad.path)}"
            writer = make_writer(settings, index_dir, show_progress=show_progress)
            writer.add_documents(paragraph_documents(squad))  # unchanged documents are kept
            retriever = Retriever(load_index(index_dir, embedder))  # as the service's default
            task = bar.add_task(f"mining {squad.path}", total=squad.question_count)
            for question in _questions(squad):
                vector = embedder.encode_query(question.question)
                passages = retriever.retrieve(question.question, vector, settings.reader_passages)
                found = 0
                for rank, passage in enumerate(passages):
                    if holds_answer(passage.chunk.text, question.answer_text):
                        continue
                    row = {"id": question.id, "question": question.question, "rank": rank}
                    row |= {"doc_id": passage.chunk.doc_id, "context": passage.chunk.text}
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                    found += 1
                counts["questions"] += 1
                counts["negatives"] += found
                counts["none_found"] += found == 0
                bar.advance(task)
    return MineReport(**counts)


def read_negatives(path: Path) -> dict[str, list[str]]:
    """The file ``mine_negatives`` wrote, as question id -> contexts in rank order.

    Raises:
        ReaderError: The file cannot be read, or a line is not such a row.
    """
    rows: dict[str, list[tuple[int, str]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ReaderError(f"cannot read hard negatives from {path}: {error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.setdefault(str(row["id"]), []).append((int(row["rank"]), str(row["context"])))
        except (ValueError, KeyError, TypeError) as error:
            raise ReaderError(
                f"{path}:{number}: not a hard-negative row ({error}); "
                "write the file with `citeqa reader mine`"
            ) from error
    return {key: [context for _, context in sorted(found)] for key, found in rows.items()}


def hard_negative_examples(
    questions: Sequence[QAExample], negatives: HardNegatives, per_question: int
) -> list[QAExample]:
    """Each question asked again of its first ``per_question`` mined contexts, as no-answer.

    >>> q = QAExample("q1", "Who ran?", "Ann ran.", 0, "Ann")
    >>> [(n.id, n.context) for n in hard_negative_examples([q], {"q1": ["Bob sat."]}, 1)]
    [('q1#hard0', 'Bob sat.')]
    """
    return [
        replace(
            question,
            id=f"{question.id}#hard{rank}",
            context=context,
            answer_start=None,
            answer_text="",
        )
        for question in questions
        for rank, context in enumerate(negatives.get(question.id, ())[:per_question])
    ]
