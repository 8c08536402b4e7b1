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
   query vectors (no model in the loop), once the server has read its index files ahead
   (``page_cache_warm_s`` after ready; indexer/page_cache.py). ``ready_s`` is from the
   child's launch to ready, imports and models included; ``index_load_s`` is the index's
   share. ``rss_mb`` is the
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
With ``--json`` the last line of output is one JSON object. The build and serve stages run
in child processes (eval/bench/scale_stages.py).
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
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.config import Settings, get_settings
from eval.bench.scale_stages import (
    POOL_K,
    RECALL_K,
    build_stage,
    has_processed_writer,
    read_json,
    serve_stage,
    settings_for,
)
from eval.bench.synthetic import (
    NOISE,
    SEEDS,
    SyntheticCorpus,
    centre_sentences,
    exact_top_k,
    load_sentences,
    queries,
)
from indexer.embedding import Vectors

CENTRES = 2000
MB = 1024 * 1024


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
    centres = _embed_centres(settings_for(config), sentences, options.centres, options.seed)
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
        build = read_json(work / "build.json")
    disk = disk_by_kind(index_dir)
    _run_child("serve", work)
    serve = read_json(work / "serve.json")
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
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="ray: time retrieval through Ray Serve shard deployments against one process "
        "(eval/bench/fan_out.py) instead of the build/serve benchmark.",
    )
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
            shard_counts,
            options.chunks,
            options.queries,
            options.seed,
            options.noise,
            options.centres,
        )
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
