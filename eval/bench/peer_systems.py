"""One system's build or serve phase, run alone in a subprocess by ``eval.bench.peers``.

    python -m eval.bench.peer_systems --system txtai --phase build --work DIR --model PATH

Each phase prints one JSON line. Only the measured system's own library is imported (txtai
and Haystack run from their own environment, citeqa from its own), so the resident memory
is that system's alone. The corpus and questions come as JSON files written by the caller:
``corpus.json`` ``[[doc_id, text], ...]`` and ``questions.json`` ``[[question, doc_id], ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Corpus = list[tuple[str, str]]
Search = Callable[[str], list[str]]  # a question -> document ids, best first


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _distinct(ids: list[str], k: int) -> list[str]:
    return list(dict.fromkeys(ids))[:k]


def measure_queries(
    search: Search, questions: list[tuple[str, str]], warmup: int = 10
) -> dict[str, Any]:
    """Latency of each search and recall over distinct documents at 1 and 5."""
    for question, _ in questions[:warmup]:
        search(question)
    latencies, at1, at5 = [], 0, 0
    for question, gold in questions:
        started = time.perf_counter()
        ranked = search(question)
        latencies.append((time.perf_counter() - started) * 1000)
        top = _distinct(ranked, 5)
        at1 += bool(top) and top[0] == gold
        at5 += gold in top
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "recall@1": at1 / len(questions),
        "recall@5": at5 / len(questions),
        "distinct@5": statistics.mean(len(set(search(q)[:5])) for q, _ in questions[:50]),
    }


# -- txtai: dense + BM25 ("hybrid"), FAISS, the same MiniLM -------------------------------


def txtai_build(corpus: Corpus, model: str, target: Path) -> dict[str, float]:
    """Build a txtai hybrid index (dense and BM25) of the corpus into ``target``."""
    from txtai import Embeddings

    started = time.perf_counter()
    embeddings = Embeddings(path=model, hybrid=True, content=False, backend="faiss")
    loaded = time.perf_counter()
    embeddings.index([(doc_id, text, None) for doc_id, text in corpus])
    embeddings.save(str(target))
    return {"load_s": loaded - started, "build_s": time.perf_counter() - loaded}


def txtai_serve(target: Path) -> Search:
    """Load the txtai index from ``target``; a function that searches it."""
    from txtai import Embeddings

    embeddings = Embeddings()
    embeddings.load(str(target))

    def search(question: str) -> list[str]:
        return [str(doc_id) for doc_id, _ in embeddings.search(question, 10)]

    return search


# -- Haystack: BM25 + embeddings joined by reciprocal rank fusion, in memory -----------------


def haystack_build(corpus: Corpus, model: str, target: Path) -> dict[str, float]:
    """Build a Haystack in-memory store with embeddings of the corpus into ``target``."""
    from haystack import Document, Pipeline
    from haystack.components.embedders import SentenceTransformersDocumentEmbedder
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    started = time.perf_counter()
    store = InMemoryDocumentStore()
    indexing = Pipeline()
    indexing.add_component("embedder", SentenceTransformersDocumentEmbedder(model=model))
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder", "writer")
    indexing.warm_up()
    loaded = time.perf_counter()
    documents = [Document(id=doc_id, content=text) for doc_id, text in corpus]
    indexing.run({"embedder": {"documents": documents}})
    store.save_to_disk(str(target))
    return {"load_s": loaded - started, "build_s": time.perf_counter() - loaded}


def haystack_serve(target: Path, model: str) -> Search:
    """Load the Haystack store; a function that runs its BM25 + embedding + RRF pipeline."""
    from haystack import Pipeline
    from haystack.components.embedders import SentenceTransformersTextEmbedder
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import (
        InMemoryBM25Retriever,
        InMemoryEmbeddingRetriever,
    )
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore.load_from_disk(str(target))
    query = Pipeline()
    query.add_component("text_embedder", SentenceTransformersTextEmbedder(model=model))
    query.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=10))
    query.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=10))
    query.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=10))
    query.connect("text_embedder", "embedding_retriever")
    query.connect("bm25_retriever", "joiner")
    query.connect("embedding_retriever", "joiner")
    query.warm_up()

    def search(question: str) -> list[str]:
        result = query.run(
            {"text_embedder": {"text": question}, "bm25_retriever": {"query": question}}
        )
        return [document.id for document in result["joiner"]["documents"]]

    return search


# -- citeqa: its own build and its retrieval (hybrid, sentence re-scoring, de-duplication) ---


def citeqa_build(corpus: Corpus, target: Path) -> dict[str, float]:
    """Build a citeqa index of the corpus into ``target``, as `citeqa index build` does."""
    from citeqa.config import Settings
    from citeqa.types import Document
    from indexer.factory import make_processor, make_writer

    started = time.perf_counter()
    settings = Settings(index_dir=target)
    processor = make_processor(settings)
    loaded = time.perf_counter()
    documents = [Document(doc_id=doc_id, text=text) for doc_id, text in corpus]
    make_writer(settings, target, processor).add_documents(documents)
    return {"load_s": loaded - started, "build_s": time.perf_counter() - loaded}


def citeqa_serve(target: Path) -> tuple[Search, Search]:
    """Retrieval alone (the question's embedding included), and the whole answer."""
    from citeqa.config import Settings
    from service.state import load_engine

    engine = load_engine(Settings(index_dir=target))

    def retrieve(question: str) -> list[str]:
        vector = engine.embedder.encode_query(question)
        passages = engine.retriever.retrieve(question, vector, 8, None, None)
        return [p.chunk.doc_id for p in passages]

    def answer(question: str) -> list[str]:
        return [p.chunk.doc_id for p in engine.answer(question).passages]

    return retrieve, answer


def main() -> None:
    """Run one phase (build or serve) of one system and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=["citeqa", "txtai", "haystack"], required=True)
    parser.add_argument("--phase", choices=["build", "serve"], required=True)
    parser.add_argument("--work", type=Path, required=True, help="corpus.json, questions.json")
    parser.add_argument("--model", default="", help="the sentence-transformers folder")
    parser.add_argument("--target", type=Path, required=True, help="where the index is kept")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    result: dict[str, Any]
    if args.phase == "build":
        corpus = [tuple(row) for row in json.loads((args.work / "corpus.json").read_text())]
        if args.system == "txtai":
            result = txtai_build(corpus, args.model, args.target)
        elif args.system == "haystack":
            result = haystack_build(corpus, args.model, args.target)
        else:
            result = citeqa_build(corpus, args.target)
        result["peak_rss_mib"] = _peak_rss_mib()
    else:
        questions = [tuple(row) for row in json.loads((args.work / "questions.json").read_text())]
        started = time.perf_counter()
        if args.system == "txtai":
            search = txtai_serve(args.target)
        elif args.system == "haystack":
            search = haystack_serve(args.target, args.model)
        else:
            search, answer = citeqa_serve(args.target)
        result = {"load_s": time.perf_counter() - started}
        result.update(measure_queries(search, questions))
        if args.system == "citeqa":
            whole = measure_queries(answer, questions[::3])
            result.update({f"answer_{key}": value for key, value in whole.items()})
        result["rss_mib"] = _rss_mib()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
