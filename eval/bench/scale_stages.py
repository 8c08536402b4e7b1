"""The scale benchmark's child processes (eval/bench/scale.py): build, and serve.

Each runs in a fresh process, ``python -m eval.bench.scale --stage build|serve``, so that its
memory and start-up are its own; they share a work folder with the parent (config.json,
sentences.json, centres.npy, questions.json, queries.npy) and write their figures into it
(build.json, serve.json).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from unittest import mock

import numpy as np

from citeqa.config import Settings, get_settings
from eval.bench.synthetic import SyntheticCorpus, generate
from indexer.embedding import Vectors
from indexer.processing import ProcessedDocument

if TYPE_CHECKING:
    from indexer.report import BuildReport
    from indexer.writer import IndexWriter
    from service.retrieval.retriever import Retriever
    from service.state import ServiceState

WARM_UP_QUERIES = 10
# What the query engine asks the retriever for (max(top_k, 8) with the API's default of 5).
RETRIEVE_TOP_K = 8
RECALL_K = 10
# The hybrid search's candidate pool from each half (service/retrieval/hybrid.py).
POOL_K = 40


class ProcessedWriter(Protocol):
    """The writer API the build stage needs: documents already chunked and embedded."""

    def add_processed(
        self, documents: Iterable[ProcessedDocument], fresh: bool = False
    ) -> BuildReport:
        """Write ``documents`` (a fresh build when ``fresh``); what was written."""


def has_processed_writer() -> bool:
    """Whether this IndexWriter can take processed documents (``add_processed``)."""
    from indexer.writer import IndexWriter

    return hasattr(IndexWriter, "add_processed")


def _processed_writer(writer: IndexWriter) -> ProcessedWriter:
    if not hasattr(writer, "add_processed"):
        raise RuntimeError(
            "IndexWriter has no add_processed(documents, fresh) yet: the scale benchmark "
            "writes pre-embedded synthetic documents through it"
        )
    return cast(ProcessedWriter, writer)


# -- the work folder shared with the child processes ----------------------------------------


def settings_for(config: dict[str, Any]) -> Settings:
    """The settings of a run's config.json: its index folder and model cache."""
    update = {
        "index_dir": Path(config["index_dir"]),
        "model_cache_dir": Path(config["model_cache"]),
    }
    return get_settings().model_copy(update=update)


def _corpus(work: Path, config: dict[str, Any]) -> SyntheticCorpus:
    sentences = json.loads((work / "sentences.json").read_text(encoding="utf-8"))
    centres = np.load(work / "centres.npy")
    return SyntheticCorpus(sentences, centres, config["seed"], config["noise"])


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from the work folder."""
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


def _status_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM, RssAnon, ...) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the build stage (a child process) ------------------------------------------------------


def _timed_generation(
    documents: Iterator[ProcessedDocument], spent: list[float], progress: Callable[[int], object]
) -> Iterator[ProcessedDocument]:
    """The documents, adding the seconds spent drawing them to ``spent[0]``."""
    while True:
        started = time.perf_counter()
        document = next(documents, None)
        spent[0] += time.perf_counter() - started
        if document is None:
            return
        progress(len(document.chunks))
        yield document


def build_stage(work: Path) -> None:
    """Write the synthetic corpus into a fresh index; the figures go to build.json."""
    from tqdm import tqdm

    from indexer.factory import make_writer

    config = read_json(work / "config.json")
    settings = settings_for(config)
    corpus = _corpus(work, config)
    started = time.perf_counter()
    # The writer records the embedder in the manifest, so the serving side accepts the index.
    writer = _processed_writer(make_writer(settings, settings.index_dir))
    models_s = time.perf_counter() - started
    spent = [0.0]
    with tqdm(total=config["chunks"], desc="build", unit="chunk", file=sys.stderr) as bar:
        started = time.perf_counter()
        documents = _timed_generation(generate(corpus, config["chunks"]), spent, bar.update)
        report = writer.add_processed(documents, fresh=True)
        total_s = time.perf_counter() - started
    result = {
        "documents": report.documents,
        "chunks_written": report.chunks,
        "build_models_s": models_s,
        "build_generate_s": spent[0],
        "build_write_s": total_s - spent[0],
        "build_total_s": total_s,
        "build_writer_s": report.seconds,
        # Stage timings, where the writer's report gives them.
        "build_stages_s": getattr(report, "stage_seconds", None),
        "build_vm_hwm_mb": _status_mb("VmHWM"),
    }
    (work / "build.json").write_text(json.dumps(result), encoding="utf-8")


# -- the serving stage (a fresh child process) ----------------------------------------------


def _retrieval_times(retriever: Retriever, questions: list[str], vectors: Vectors) -> list[float]:
    for question, vector in zip(questions[:WARM_UP_QUERIES], vectors, strict=False):
        retriever.retrieve(question, vector, RETRIEVE_TOP_K)
    times = []
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()
        retriever.retrieve(question, vector, RETRIEVE_TOP_K)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _timed_load(settings: Settings) -> tuple[ServiceState, dict[str, float]]:
    """``load_state`` as the server runs it, and the RSS before and the time of its index load."""
    from service.state import ServiceState, load_state

    marks: dict[str, float] = {}
    reload = ServiceState.reload

    def timed_reload(state: ServiceState) -> None:
        marks["rss_models_mb"] = _status_mb("VmRSS")
        started = time.perf_counter()
        reload(state)
        marks["index_load_s"] = time.perf_counter() - started

    # load_state itself, timed from inside: the index's share is the one reload it runs.
    with mock.patch.object(ServiceState, "reload", timed_reload):
        return load_state(settings), marks


def _dense_rankings(
    retriever: Retriever, questions: list[str], vectors: Vectors
) -> dict[str, list[list[str]]]:
    """Each question's dense top ``RECALL_K`` and top ``POOL_K`` chunk ids, for recall."""
    from service.retrieval.hybrid import DenseRetriever

    del questions  # the dense search needs only their vectors
    return {
        f"dense_top{k}": [
            [
                chunk.chunk_id
                for chunk in retriever.index.chunks.many(
                    [r.position for r in DenseRetriever(retriever.index).search(vector, k)]
                )
            ]
            for vector in vectors
        ]
        for k in (RECALL_K, POOL_K)
    }


def serve_stage(work: Path, launched_at: float) -> None:
    """Load as ``citeqa serve`` does, query, add one document; the figures go to serve.json."""
    from indexer.loaders import load_paths

    config = read_json(work / "config.json")
    # A server that takes writes has a key, and so loads spaCy before ready (service/state.py).
    settings = settings_for(config).model_copy(update={"api_key": "scale-benchmark"})
    imported_s = time.time() - launched_at
    started = time.perf_counter()
    state, marks = _timed_load(settings)
    ready_s = time.time() - launched_at
    load_s = time.perf_counter() - started
    engine = state.engine
    if engine is None:
        raise RuntimeError(f"the server loaded no index from {settings.index_dir}")
    questions = read_json(work / "questions.json")["questions"]
    vectors = np.load(work / "queries.npy")
    from service.retrieval.retriever import Retriever

    retriever = engine.retriever
    if not isinstance(retriever, Retriever):  # load_state serves one process
        raise RuntimeError(f"the serve stage needs a local Retriever, not {retriever!r}")
    # Timed once the server has read its index files ahead (indexer/page_cache.py), as a
    # server is some seconds after ready: a server's steady state, not its first touches.
    warming = state.page_cache
    if warming is not None:
        warming.wait()
    times = _retrieval_times(retriever, questions, vectors)
    dense = _dense_rankings(retriever, questions, vectors)
    result = {
        "ready_s": ready_s,
        "startup_imports_s": imported_s,
        "index_load_s": marks["index_load_s"],
        "models_load_s": load_s - marks["index_load_s"],
        "rss_models_mb": marks["rss_models_mb"],
        "rss_mb": _status_mb("VmRSS"),
        "rss_anon_mb": _status_mb("RssAnon"),
        "rss_file_mb": _status_mb("RssFile"),
        "mapped_total_mb": _status_mb("VmSize"),
        "page_cache": state.page_cache_state,
        "page_cache_warm_s": warming.seconds if warming is not None else None,
        "retrieval_p50_ms": float(np.percentile(times, 50)),
        "retrieval_p99_ms": float(np.percentile(times, 99)),
        "retrieval_mean_ms": statistics.mean(times),
        "faiss_index": str(engine.index.manifest.faiss_index),
        "segments": [
            f"{s.name}:{s.live_chunks}:{s.factory}" for s in engine.index.manifest.segments
        ],
        **dense,
    }
    document = load_paths([Path(config["add_document"])]).documents[0]
    started = time.perf_counter()
    state.writer.add_documents([document])
    result["add_one_s"] = time.perf_counter() - started
    (work / "serve.json").write_text(json.dumps(result), encoding="utf-8")
