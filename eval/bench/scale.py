"""The scale benchmark: build, serve and extend an index of N synthetic chunks.

    python -m eval.bench.scale --chunks N [--json] [--index-dir DIR] [--queries 500]
                               [--seed 0] [--keep] [--no-http] [--http-queries 200]
    python -m eval.bench.scale --engine ray --shards 1,2,4 --chunks 20000 --queries 200
        (Ray Serve fan-out against one process: eval/bench/fan_out.py)

1. Embeds a few thousand real sentences once (the centres of eval/bench/synthetic.py).
2. **Build**, in a child process: N synthetic chunks through the real writer
   (``IndexWriter.add_processed``), streamed, no model in the loop. Its peak RSS is the
   child's (``RUSAGE_CHILDREN``), so nothing the parent holds counts; it includes the
   embedder and spaCy that ``make_writer`` loads, as a real build holds them.
3. **Disk**: the index folder's bytes by kind of file.
4. **Serve**, in a fresh child: ``service.state.load_state`` as ``citeqa serve`` runs it (models,
   writer, reader, then the index and its retriever), then ``--queries`` retrievals with given
   query vectors (no model in the loop). ``ready_s`` is from the child's launch to ready,
   imports and models included; ``index_load_s`` is the index's share. ``rss_mb`` is the
   child's VmRSS after the queries: the embedder, query encoder, spaCy and span reader
   included, as in a server.
5. **Recall@10** of the dense search against exact search, done here in the parent over the
   same vectors drawn again from the seed, so it costs the server nothing.
6. **Add one document** (a seed article) in the serving child through
   ``writer.add_documents``, spaCy and the embedder at work, models already loaded (the
   server has an API key, so spaCy loaded before ready and ``ready_s`` includes it).
7. **End to end** (eval/bench/scale_http.py; ``--no-http`` skips it): `citeqa serve` over
   the index, 5 s past ready; ``/v1/query`` p50/p99 at one client and p50 at two, reader on,
   the questions embedded by the server's model (``http_*``); ``POST /v1/documents`` with
   its reload (``api_add_one_s``), then writes until one merges segments
   (``api_add_merge_s``); the server's anonymous and file-backed RSS and mapped bytes.
   ``recall_at_40`` (the hybrid candidate pool) is counted as recall@10 is.

The load average is printed beside the figures: on a shared machine they are provisional.
With ``--json`` the last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from unittest import mock

import numpy as np

from citeqa.config import Settings, get_settings
from eval.bench.synthetic import (
    NOISE,
    SEEDS,
    SyntheticCorpus,
    centre_sentences,
    exact_top_k,
    generate,
    load_sentences,
    queries,
)
from indexer.embedding import Vectors
from indexer.processing import ProcessedDocument

if TYPE_CHECKING:
    from indexer.writer import BuildReport, IndexWriter
    from service.retrieval.retriever import Retriever

CENTRES = 2000
WARM_UP_QUERIES = 10
# What the query engine asks the retriever for (max(top_k, 8) with the API's default of 5).
RETRIEVE_TOP_K = 8
RECALL_K = 10
# The hybrid search's candidate pool from each half (service/retrieval/hybrid.py).
POOL_K = 40
MB = 1024 * 1024


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


def _settings(config: dict[str, Any]) -> Settings:
    update = {
        "index_dir": Path(config["index_dir"]),
        "model_cache_dir": Path(config["model_cache"]),
    }
    return get_settings().model_copy(update=update)


def _corpus(work: Path, config: dict[str, Any]) -> SyntheticCorpus:
    sentences = json.loads((work / "sentences.json").read_text(encoding="utf-8"))
    centres = np.load(work / "centres.npy")
    return SyntheticCorpus(sentences, centres, config["seed"], config["noise"])


def _read_json(path: Path) -> dict[str, Any]:
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

    config = _read_json(work / "config.json")
    settings = _settings(config)
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


def serve_stage(work: Path, launched_at: float) -> None:
    """Load as ``citeqa serve`` does, query, add one document; the figures go to serve.json."""
    from indexer.loaders import load_paths
    from service.state import ServiceState, load_state

    config = _read_json(work / "config.json")
    # A server that takes writes has a key, and so loads spaCy before ready (service/state.py).
    settings = _settings(config).model_copy(update={"api_key": "scale-benchmark"})
    imported_s = time.time() - launched_at
    marks: dict[str, float] = {}
    reload = ServiceState.reload

    def timed_reload(state: ServiceState) -> None:
        marks["rss_models_mb"] = _status_mb("VmRSS")
        started = time.perf_counter()
        reload(state)
        marks["index_load_s"] = time.perf_counter() - started

    started = time.perf_counter()
    # load_state itself, timed from inside: the index's share is the one reload it runs.
    with mock.patch.object(ServiceState, "reload", timed_reload):
        state = load_state(settings)
    ready_s = time.time() - launched_at
    load_s = time.perf_counter() - started
    engine = state.engine
    if engine is None:
        raise RuntimeError(f"the server loaded no index from {settings.index_dir}")
    questions = _read_json(work / "questions.json")["questions"]
    vectors = np.load(work / "queries.npy")
    from service.retrieval.hybrid import DenseRetriever
    from service.retrieval.retriever import Retriever

    retriever = engine.retriever
    if not isinstance(retriever, Retriever):  # load_state serves one process
        raise RuntimeError(f"the serve stage needs a local Retriever, not {retriever!r}")
    times = _retrieval_times(retriever, questions, vectors)
    dense = {
        f"dense_top{k}": [
            [chunk.chunk_id for chunk in retriever.index.chunks.many(
                [r.position for r in DenseRetriever(retriever.index).search(vector, k)])]
            for question, vector in zip(questions, vectors, strict=True)
        ]
        for k in (RECALL_K, POOL_K)
    }  # fmt: skip
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


# -- the parent: set up, run the stages, measure what the children cannot ------------------


def disk_by_kind(folder: Path) -> dict[str, float]:
    """MB on disk under ``folder`` by kind of file: sqlite, faiss, json, npy by name, ...

    ``.npy`` files are told apart by name (sentence vectors from BM25's arrays), summed over
    every segment or generation that holds one.
    """
    sizes: dict[str, float] = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        name = path.name
        if ".sqlite" in name:
            kind = "sqlite"  # with its -wal, -shm or -journal
        elif path.suffix == ".npy":
            kind = f"npy:{path.name.removesuffix('.npy')}"
        else:
            kind = path.suffix.lstrip(".") or "other"
        sizes[kind] = sizes.get(kind, 0.0) + path.stat().st_size / MB
    return dict(sorted(sizes.items()))


def _embed_centres(settings: Settings, sentences: list[str], count: int, seed: int) -> Vectors:
    """Real embeddings of ``count`` of the sentences, by the project's embedder."""
    from indexer.factory import make_embedder

    embedder = make_embedder(settings)
    return embedder.encode_documents(centre_sentences(sentences, count, seed))


def _run_child(stage: str, work: Path) -> None:
    command = [sys.executable, "-m", "eval.bench.scale", "--stage", stage, "--workdir", str(work)]
    command += ["--launched-at", repr(time.time())]
    # The children's output goes to stderr: with --json, stdout's last line stays the result.
    done = subprocess.run(command, stdout=sys.stderr, check=False)
    if done.returncode:
        raise RuntimeError(
            f"the {stage} stage failed (exit {done.returncode}); see its error above"
        )


def _recall(found: list[list[str]], exact: list[list[str]], k: int = RECALL_K) -> float:
    hits = [len(set(f[:k]) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)]
    return statistics.mean(hits)


def _http_figures(
    options: argparse.Namespace, config: dict[str, Any], questions: list[str]
) -> dict[str, Any]:
    """The end-to-end stage's figures (eval/bench/scale_http.py), or none with --no-http."""
    if options.no_http:
        return {}
    from eval.bench.scale_http import http_stage

    texts = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]
    environment = {"CITEQA_MODEL_CACHE_DIR": config["model_cache"]}
    return http_stage(
        Path(config["index_dir"]), questions, texts, environment, options.http_queries
    )


def run(options: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every stage of the benchmark, with ``work`` as the scratch folder; the figures."""
    load_before = os.getloadavg()
    settings = get_settings()
    index_dir: Path = options.index_dir or work / "index"
    config = {
        "index_dir": str(index_dir),
        # Where the exports already are: a fresh index folder would export the models again.
        "model_cache": str(settings.resolved_model_cache_dir()),
        "chunks": options.chunks,
        "seed": options.seed,
        "noise": options.noise,
        "add_document": str(options.add_document),
    }
    (work / "config.json").write_text(json.dumps(config), encoding="utf-8")
    started = time.perf_counter()
    sentences = load_sentences()
    centres = _embed_centres(_settings(config), sentences, options.centres, options.seed)
    setup_s = time.perf_counter() - started
    (work / "sentences.json").write_text(json.dumps(sentences), encoding="utf-8")
    np.save(work / "centres.npy", centres)
    corpus = SyntheticCorpus(sentences, centres, options.seed, options.noise)
    questions, query_vectors = queries(corpus, options.queries)
    (work / "questions.json").write_text(json.dumps({"questions": questions}), encoding="utf-8")
    np.save(work / "queries.npy", query_vectors)

    build: dict[str, Any] = {}
    build_peak_mb = None
    if not options.serve_only:
        _run_child("build", work)
        # Read before the serving child runs: the largest child so far is the build.
        build_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        build = _read_json(work / "build.json")
    disk = disk_by_kind(index_dir)
    _run_child("serve", work)
    serve = _read_json(work / "serve.json")
    exact = exact_top_k(corpus, options.chunks, query_vectors, POOL_K)
    dense, pool = serve.pop(f"dense_top{RECALL_K}"), serve.pop(f"dense_top{POOL_K}")
    http = _http_figures(options, config, questions)
    return {
        "chunks": options.chunks,
        "seed": options.seed,
        "queries": options.queries,
        "setup_s": setup_s,
        **build,
        "build_peak_rss_mb": build_peak_mb,
        "disk_mb": disk,
        "disk_total_mb": sum(disk.values()),
        **serve,
        "recall_at_10": _recall(dense, [e[:RECALL_K] for e in exact]),
        "recall_at_40": _recall(pool, exact, POOL_K),
        **http,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
    }


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def load(values: list[float]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    table = Table(title=f"scale benchmark: {result['chunks']:,} synthetic chunks")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("load avg before / after")
    rows: list[tuple[str, str]] = []
    for key, value in result.items():
        if key in ("load_before", "load_after", "disk_mb", "build_stages_s", "api_add_s"):
            continue
        rows.append((key, f"{value:,.3f}" if isinstance(value, float) else str(value)))
    for kind, size in result["disk_mb"].items():
        rows.append((f"disk {kind} MB", f"{size:,.1f}"))
    for stage, seconds in (result.get("build_stages_s") or {}).items():
        rows.append((f"build stage {stage} s", f"{seconds:,.3f}"))
    loads = f"{load(result['load_before'])} / {load(result['load_after'])}"
    for number, (name, value) in enumerate(rows):
        table.add_row(name, value, loads if number == 0 else "")
    Console(stderr=False, width=120).print(table)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="Last line: the figures as JSON.")
    parser.add_argument(
        "--index-dir", type=Path, help="Build here (kept) instead of a temp folder."
    )
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=NOISE, help="Per-dimension noise.")
    parser.add_argument("--centres", type=int, default=CENTRES, help="Real sentences embedded.")
    parser.add_argument(
        "--add-document", type=Path, default=min(SEEDS.glob("*.txt")), help="The one added."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    parser.add_argument("--no-http", action="store_true", help="Skip the end-to-end stage.")
    parser.add_argument(
        "--http-queries", type=int, default=200, help="One-client questions over HTTP."
    )
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="Skip the build: measure serving on the index an earlier run with the same "
        "--chunks and --seed left in --index-dir (each run adds its documents to it: one, and up "
        "to 12 more through the API).",
    )
    parser.add_argument(
        "--engine", choices=["local", "ray"], default="local",
        help="ray: time retrieval through Ray Serve shard deployments against one process "
        "(eval/bench/fan_out.py) instead of the build/serve benchmark.",
    )  # fmt: skip
    parser.add_argument(
        "--shards", default="1,2,4", help="--engine ray: shard counts, comma-separated."
    )
    # The child processes: one stage each, sharing the work folder.
    parser.add_argument("--stage", choices=["build", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--launched-at", type=float, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.chunks < 1 or options.queries < 1 or options.http_queries < 1:
        parser.error("--chunks, --queries and --http-queries must be at least 1")
    if options.serve_only and not (options.index_dir and (options.index_dir / "CURRENT").exists()):
        parser.error("--serve-only needs --index-dir with an index an earlier run built")
    return options


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (or, with the hidden ``--stage``, one of its child processes)."""
    options = _parse(argv)
    if options.stage == "build":
        build_stage(options.workdir)
        return
    if options.stage == "serve":
        serve_stage(options.workdir, options.launched_at)
        return
    if options.engine == "ray":
        from eval.bench.fan_out import print_fan_out, run_fan_out

        shard_counts = [int(count) for count in options.shards.split(",")]
        result = run_fan_out(
            shard_counts, options.chunks, options.queries, options.seed, options.noise,
            options.centres,
        )  # fmt: skip
        print_fan_out(result)
        if options.json:
            print(json.dumps(result))
        return
    if not has_processed_writer():
        sys.exit(
            "IndexWriter has no add_processed(documents, fresh) yet: the scale benchmark "
            "writes pre-embedded synthetic documents through it"
        )
    work = Path(tempfile.mkdtemp(prefix="citeqa-scale-"))
    try:
        result = run(options, work)
    finally:
        if options.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    _print_table(result)
    if options.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
