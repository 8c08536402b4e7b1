"""Distinct paragraphs in the top 5, with and without joining chunks of one paragraph.

Usage: python -m eval.bench.distinct_passages --index-dir DIR --squad FILE [--questions 600]

DIR is an index of the SQuAD-format FILE's paragraphs, as `citeqa eval` leaves it under
``OUT/indexes/``. Each question is retrieved twice by the same Retriever: once as served
(chunks of one paragraph joined into one passage, or giving way), once with
``RetrievalOptions(join_paragraphs=False)``. Prints the mean number of distinct paragraphs
among the top 5 (:func:`service.retrieval.dedup.distinct_paragraphs`; a SQuAD paragraph
is indexed as its own document) and the share of questions with a gold document there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from citeqa.config import Settings
from eval.datasets.squad import load_squad
from indexer.factory import make_embedder
from indexer.index import load_index
from service.retrieval.dedup import distinct_paragraphs
from service.retrieval.retriever import RetrievalOptions, Retriever


def main() -> None:
    """Retrieve every question with and without the join and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=600)
    args = parser.parse_args()
    settings = Settings()
    embedder = make_embedder(settings)
    index = load_index(args.index_dir, embedder)
    retriever = Retriever(index)
    questions = load_squad(args.squad).questions
    questions = questions[:: max(1, len(questions) // args.questions)][: args.questions]
    table = Table(title=f"top 5 over {len(questions)} questions")
    for column in ("passages", "distinct paragraphs", "questions with a repeat", "paragraph R@5"):
        table.add_column(column)
    for name, join in (("chunks as ranked", False), ("paragraphs joined (served)", True)):
        options = RetrievalOptions(join_paragraphs=join)
        distinct = found = repeated = 0
        for question in questions:
            vector = embedder.encode_query(question.question)
            passages = retriever.retrieve(question.question, vector, 5, options=options)
            count = distinct_paragraphs(passages, lambda d: index.documents[d].text)
            distinct += count
            repeated += count < len(passages)
            found += any(p.chunk.doc_id in question.relevance for p in passages)
        table.add_row(
            name,
            f"{distinct / len(questions):.3f}",
            str(repeated),
            f"{found / len(questions):.3f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
