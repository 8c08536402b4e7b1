"""Fan-out overhead of `serve --engine ray`: retrieval through shard deployments vs one process.

    python -m eval.bench.scale --engine ray --shards 1,2,4 [--chunks 20000] [--queries 200]

For each shard count S, the scale benchmark's synthetic corpus (eval/bench/synthetic.py,
the same seed, so the same chunks and vectors) is written into an index of S shards, and
the same query vectors are retrieved twice, in turn per query:

- **local**: :class:`~service.retrieval.retriever.Retriever` over the whole generation in
  this process, as `serve --engine local` retrieves;
- **ray**: the same :class:`~service.retrieval.retriever.Retriever` over one Serve
  deployment per shard (one replica each, on a local Ray cluster), through
  :class:`~service.distributed.client.RayShardClient`, reading document texts for overlap
  joins from the generation open here, as the ingress retrieves.

The overhead is ray minus local, at p50 and p99; the issue's target is p50 <= 10 ms on one
machine. Both paths return the same passages (checked on every query), so the difference
is the fan-out: a round trip per shard through Serve's router (two for a query whose
merge picked a candidate its shard had not re-scored early: the "second rounds" column),
and serialisation of the requests and answers. The load average is printed with the
figures: on a shared machine they are provisional.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from citeqa.config import Settings, get_settings
from citeqa.types import Passage
from eval.bench.synthetic import SyntheticCorpus, centre_sentences, generate, load_sentences
from eval.bench.synthetic import queries as synthetic_queries
from indexer.embedding import Vectors

if TYPE_CHECKING:
    from service.distributed.client import RayShardClient

RETRIEVE_TOP_K = 8  # what the query engine asks for with the API's default top_k
WARM_UP_QUERIES = 10


def _percentiles(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "mean_ms": statistics.mean(times),
    }


def _build(index_dir: Path, corpus: SyntheticCorpus, chunks: int, shards: int) -> float:
    from indexer.factory import make_writer

    base = get_settings()
    # The exports already made: a fresh index folder would export the models again.
    cache = base.resolved_model_cache_dir()
    update = {"index_dir": index_dir, "shards": shards, "model_cache_dir": cache}
    settings = base.model_copy(update=update)
    started = time.perf_counter()
    make_writer(settings, index_dir).add_processed(generate(corpus, chunks), fresh=True)
    return time.perf_counter() - started


def _deploy(index_dir: Path, shards: int, cpus: float) -> list[Any]:
    """One Serve app per shard deployment (no ingress): their handles."""
    from ray import serve

    from citeqa.ray_cluster import replica_cpus
    from service.distributed.app import shard_deployment

    share = replica_cpus(cpus, shards)
    return [
        serve.run(
            shard_deployment(shard, 1, share).bind(str(index_dir), shard),
            name=f"fan-out-{shard}",
            route_prefix=None,
        )
        for shard in range(shards)
    ]


def measure(
    index_dir: Path, questions: list[str], vectors: Vectors, shards: int, settings: Settings
) -> dict[str, Any]:
    """Retrieval times of one process and of the Ray fan-out over the index at ``index_dir``."""
    import faiss
    from ray import serve

    from indexer.index import load_index
    from service.distributed.client import RayShardClient
    from service.retrieval.retriever import Retriever

    # One OpenMP thread, as `citeqa serve` (service.state) and the shard replicas search:
    # FAISS's scores change in the last bits with its thread count.
    faiss.omp_set_num_threads(1)
    index = load_index(index_dir)
    handles = _deploy(index_dir, shards, settings.ray_serve_cpus)
    local_times: list[float] = []
    ray_times: list[float] = []
    differ: list[str] = []
    try:
        clients = [
            RayShardClient(h, k, index.manifest.generation, settings.ray_shard_timeout_s)
            for k, h in enumerate(handles)
        ]
        local = Retriever(index)
        fanned = Retriever(index, shards=clients)
        for at, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
            started = time.perf_counter()
            want = local.retrieve(question, vector, RETRIEVE_TOP_K)
            middle = time.perf_counter()
            got = fanned.retrieve(question, vector, RETRIEVE_TOP_K)
            ended = time.perf_counter()
            if got != want:
                differ.append(_difference(question, want, got))
            if at >= WARM_UP_QUERIES:
                local_times.append((middle - started) * 1000)
                ray_times.append((ended - middle) * 1000)
        call_times, fan_times = _empty_call_times(clients, len(ray_times))
    finally:
        for shard in range(shards):
            serve.delete(f"fan-out-{shard}")
        index.close()
    local_figures, ray_figures = _percentiles(local_times), _percentiles(ray_times)
    return {
        "shards": shards,
        "local": local_figures,
        "ray": ray_figures,
        "overhead_p50_ms": ray_figures["p50_ms"] - local_figures["p50_ms"],
        "overhead_p99_ms": ray_figures["p99_ms"] - local_figures["p99_ms"],
        "empty_call_p50_ms": float(np.percentile(call_times, 50)),
        "empty_fan_out_p50_ms": float(np.percentile(fan_times, 50)),
        "queries_differing": len(differ),
        # Queries that needed a second round trip: a candidate its shard had not re-scored
        # with its lists (warm-up queries included).
        "second_rounds": fanned.second_rounds,
        "first_difference": differ[0] if differ else None,
    }


def _empty_call_times(clients: list[RayShardClient], count: int) -> tuple[list[float], list[float]]:
    """Milliseconds of ``count`` calls that do no work (which generation a shard serves):
    Serve's own cost per round trip, to one shard and to every shard at once (a query's
    fan-out)."""
    call_times, fan_times = [], []
    for _ in range(count):
        started = time.perf_counter()
        clients[0].describe()
        middle = time.perf_counter()
        for pending in [client.submit_describe() for client in clients]:
            pending.result()
        call_times.append((middle - started) * 1000)
        fan_times.append((time.perf_counter() - middle) * 1000)
    return call_times, fan_times


def _difference(question: str, want: list[Passage], got: list[Passage]) -> str:
    """How the fan-out's passages differ from one process's, for the report."""
    ids = [p.chunk.chunk_id for p in want], [p.chunk.chunk_id for p in got]
    largest = max((abs(a.score - b.score) for a, b in zip(want, got, strict=False)), default=0.0)
    order = "same chunks in the same order" if ids[0] == ids[1] else f"chunks {ids[0]} vs {ids[1]}"
    return f"{question!r}: {order}; largest score difference {largest:.3g}"


def run_fan_out(
    shard_counts: list[int], chunks: int, query_count: int, seed: int, noise: float, centres: int
) -> dict[str, Any]:
    """Build, deploy and time each shard count; the figures."""
    from citeqa.ray_cluster import RayClusterConfig, connect, disconnect
    from indexer.factory import make_embedder

    settings = get_settings()
    load_before = os.getloadavg()
    sentences = load_sentences()
    vectors = make_embedder(settings).encode_documents(centre_sentences(sentences, centres, seed))
    corpus = SyntheticCorpus(sentences, vectors, seed, noise)
    questions, query_vectors = synthetic_queries(corpus, query_count + WARM_UP_QUERIES)
    work = Path(tempfile.mkdtemp(prefix="citeqa-fan-out-", dir="/tmp"))
    # Ray's sessions and sockets in the work folder, apart from other clusters here.
    os.environ.setdefault("RAY_TMPDIR", str(work))
    results = []
    connect(RayClusterConfig.from_settings(settings))
    try:
        from ray import serve

        serve.start(proxy_location="Disabled")  # handles only: no HTTP port to claim
        for shards in shard_counts:
            index_dir = work / f"s{shards}"
            build_s = _build(index_dir, corpus, chunks, shards)
            figures = measure(index_dir, questions, query_vectors, shards, settings)
            results.append({**figures, "build_s": build_s})
            shutil.rmtree(index_dir, ignore_errors=True)
    finally:
        try:
            from ray import serve

            serve.shutdown()  # type: ignore[no-untyped-call]
        finally:
            disconnect()
            shutil.rmtree(work, ignore_errors=True)
    return {
        "engine": "ray",
        "chunks": chunks,
        "queries": query_count,
        "results": results,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
    }


def print_fan_out(result: dict[str, Any]) -> None:
    """The figures as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Ray fan-out: {result['chunks']:,} synthetic chunks, {result['queries']} queries"
    )
    for column in (
        "shards",
        "local p50",
        "ray p50",
        "overhead p50",
        "local p99",
        "ray p99",
        "overhead p99",
        "no-op call p50",
        "no-op to all p50",
        "second rounds",
        "differing",
    ):
        table.add_column(column, justify="right")
    for row in result["results"]:
        local, ray = row["local"], row["ray"]
        table.add_row(
            str(row["shards"]),
            f"{local['p50_ms']:.2f}",
            f"{ray['p50_ms']:.2f}",
            f"{row['overhead_p50_ms']:.2f}",
            f"{local['p99_ms']:.2f}",
            f"{ray['p99_ms']:.2f}",
            f"{row['overhead_p99_ms']:.2f}",
            f"{row['empty_call_p50_ms']:.2f}",
            f"{row.get('empty_fan_out_p50_ms', float('nan')):.2f}",
            str(row.get("second_rounds", "-")),
            str(row["queries_differing"]),
        )
    console = Console(width=140)
    console.print(table)
    load = " / ".join(
        " ".join(f"{v:.2f}" for v in result[key]) for key in ("load_before", "load_after")
    )
    console.print(f"times in ms; load average before / after: {load}")
