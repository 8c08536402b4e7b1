"""How many candidates a shard must re-score early for a query to need one round trip.

    python -m eval.bench.early_coverage --dataset ../shared/benchmarks/squadshifts-nyt/dev.json \\
        [--limit-articles 200] [--questions 300] [--shards 2,4,8]

The dataset's documents are indexed once (the real models), rewritten into S shards (no
model runs), and each question is searched on every shard as the Ray ingress does. For
each query and shard it finds how far down the shard's local order
(:func:`~service.retrieval.shard.local_candidates`) the last of its candidates in the
merge lies: the early count that shard needed. Printed: the largest need of each query
(p50 / p90 / p99 / max), what :data:`~service.retrieval.retriever.EARLY_FACTOR` gives,
and the share of queries that needed a second round trip with it. No timing: the figures
do not depend on the machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from citeqa.config import get_settings
from eval.bench.fan_out import RETRIEVE_TOP_K
from eval.datasets.detect import load_dataset
from indexer.factory import make_embedder, make_processor
from indexer.index import load_index
from indexer.writer import IndexWriter
from service.retrieval.hybrid import fuse, merge_ranked
from service.retrieval.retriever import EARLY_FACTOR, RetrievalOptions, Retriever
from service.retrieval.shard import SearchRequest, local_candidates, open_local_shards


def main() -> None:
    """Index the dataset, shard it, and print the early counts its questions needed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="A SQuAD, BEIR or RGB file.")
    parser.add_argument("--limit-articles", type=int, default=200)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--shards", default="2,4,8", help="Shard counts, comma-separated.")
    args = parser.parse_args()
    settings = get_settings()
    dataset = load_dataset(args.dataset, limit=args.limit_articles)
    questions = [q.question for q in dataset.questions[: args.questions]]
    embedder = make_embedder(settings)
    processor = make_processor(settings)
    vectors = [embedder.encode_query(q) for q in questions]
    pool = RetrievalOptions().candidates
    with tempfile.TemporaryDirectory(prefix="citeqa-early-") as scratch:
        one = Path(scratch) / "one"
        IndexWriter(one, processor).add_documents(dataset.documents)
        index = load_index(one, embedder)
        processed = [
            segment.processed(row)[0]
            for segment in index.segments
            for row in range(len(segment.doc_ids))
            if segment.doc_ids[row] in index.documents
        ]
        print(f"{len(processed)} documents, {len(questions)} questions, {pool} candidates")
        print("shards | early needed p50 / p90 / p99 / max | early given | second rounds")
        for shards in [int(count) for count in args.shards.split(",")]:
            folder = Path(scratch) / f"s{shards}"
            IndexWriter(folder, processor, shards=shards).add_processed(processed, fresh=True)
            sharded = load_index(folder, embedder)
            searchers = open_local_shards(folder, embedder)
            # As for remote shards: in this process early scores are off by default.
            retriever = Retriever(sharded, shards=searchers, early_factor=EARLY_FACTOR)
            needs = []
            for question, vector in zip(questions, vectors, strict=True):
                request = SearchRequest(retriever.generation, question, vector, pool)
                lists = [searcher.search(request) for searcher in searchers]
                dense = merge_ranked([found.dense.unpack() for found in lists], pool)
                lexical = merge_ranked([found.bm25.unpack() for found in lists], pool)
                chosen = {c.position for c in fuse(dense, lexical)[:pool]}
                need = 0
                for found in lists:
                    order = local_candidates(
                        found.dense.unpack(), found.bm25.unpack(), shards, pool * 2
                    )
                    ranks = [at for at, c in enumerate(order) if c.position in chosen]
                    need = max(need, ranks[-1] + 1 if ranks else 0)
                needs.append(need)
                retriever.retrieve(question, vector, RETRIEVE_TOP_K)
            p50, p90, p99 = np.percentile(needs, [50, 90, 99])
            print(
                f"{shards} | {p50:.0f} / {p90:.0f} / {p99:.0f} / {max(needs)} | "
                f"{retriever.early_count(pool)} | {retriever.second_rounds} of {retriever.queries}"
            )
            for searcher in searchers:
                searcher.close()
            sharded.close()
        index.close()


if __name__ == "__main__":
    main()
