"""Distinct paragraphs in the top 5, with and without joining overlapping chunks.

Usage: python -m eval.bench.distinct_passages --index-dir DIR --squad FILE [--questions 600]

DIR is an index of the SQuAD-format FILE's paragraphs, as `citeqa eval` leaves it under
``OUT/indexes/``. Each question is retrieved twice by the same Retriever: once as served
(overlapping chunks of one document joined into one passage), once with
``RetrievalOptions(join_overlaps=False)``. Prints the mean number of distinct documents
(paragraphs) among the top 5 and the share of questions with a gold paragraph there.
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
    for column in ("passages", "distinct paragraphs", "paragraph R@5"):
        table.add_column(column)
    for name, join in (("chunks as ranked", False), ("overlaps joined (served)", True)):
        options = RetrievalOptions(join_overlaps=join)
        distinct = found = 0
        for question in questions:
            vector = embedder.encode_query(question.question)
            passages = retriever.retrieve(question.question, vector, 5, options=options)
            documents = [p.chunk.doc_id for p in passages]
            distinct += len(set(documents))
            found += any(d in question.relevance for d in documents)
        table.add_row(name, f"{distinct / len(questions):.2f}", f"{found / len(questions):.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
