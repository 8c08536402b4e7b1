"""FAISS index types measured by size: build time, bytes, 1-thread latency, recall@10 vs exact.

    python -m eval.bench.vector_index [--sizes 100000,300000,1000000] [--json]
        [--factories "Flat;HNSW32;IVF1024,SQ8"] [--queries 500] [--deleted 0.1] [--memory]

Two kinds of vectors, as eval/VECTOR_INDEX.md reports:

- real: all-MiniLM embeddings of the SQuADShifts training paragraphs and their sentences
  (about 43k), searched with their crowd-written questions, embedded as queries
  (``eval/bench/real_vectors.py``). Embedded once, then cached in ``--cache-dir``.
- clustered: N synthetic vectors drawn around those real ones. Each is a real vector plus
  gaussian noise shaped like the real vectors' covariance, scaled so that a point's cosine
  to its centre is the square root of the median cosine between a real paragraph and its
  nearest other paragraph: two points around one centre are then about as alike as two
  neighbouring real paragraphs. Queries are the same real questions.

Everything runs on one thread (``faiss.omp_set_num_threads(1)``), build included; the
load average is printed beside the table. With ``--json`` the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from eval.bench.real_vectors import BLOCK, clustered_vectors, neighbour_cosine, real_embeddings
from indexer.embedding import Vectors
from indexer.vectors import (
    HNSW_EF_SEARCH,
    Deletions,
    auto_nlist,
    build_vector_index,
    choose_factory,
    search,
    search_parameters,
)

CACHE_DIR = Path("data/bench-cache")
K = 10
# Each factory is built once and searched with the rule's setting, then each of these:
# IVF probes these shares of its lists, HNSW explores these many candidates.
NPROBE_SHARES = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4)
EF_SEARCH = (64, 128, 256)
# HNSW is slow to build on one thread at this size and beyond (eval/RESULTS.md) and is not
# the rule's pick: the default sweep stops there.
HNSW_UP_TO = 300_000

Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Row:
    """One index type and search setting measured on one set of vectors."""

    vectors: str
    factory: str
    search: str
    rule: bool  # the factory and search setting that "auto" gives this many vectors
    n: int
    build_s: float
    bytes_per_vector: float
    p50_ms: float
    p99_ms: float
    recall_at_10: float


def exact_top_k(
    corpus: Vectors, queries: Vectors, k: int, deleted: npt.NDArray[np.bool_] | None = None
) -> Ids:
    """The exact top-k rows per query by brute force, a block of rows at a time."""
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(corpus), BLOCK):
        scores = queries @ corpus[start : start + BLOCK].T
        if deleted is not None:
            scores[:, deleted[start : start + BLOCK]] = -np.inf
        # The block's own top k first: sorting whole blocks would dominate the run.
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, top, axis=1)])
        best_ids = np.hstack([best_ids, top + start])
        order = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(best_scores, order, axis=1)
        best_ids = np.take_along_axis(best_ids, order, axis=1)
    return best_ids


def _settings(index: Any) -> list[dict[str, int]]:
    """The rule's search parameters, then the sweep around them."""
    rule = search_parameters(index)
    sweep = [rule]
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        probes = sorted({max(1, round(ivf.nlist * share)) for share in NPROBE_SHARES})
        sweep += [{**rule, "nprobe": nprobe} for nprobe in probes]
    elif "efSearch" in rule:
        sweep += [{**rule, "efSearch": ef} for ef in EF_SEARCH]
    # The quantizer must explore at least the lists it returns.
    for parameters in sweep:
        if "quantizer_efSearch" in parameters:
            parameters["quantizer_efSearch"] = max(HNSW_EF_SEARCH, 2 * parameters["nprobe"])
    return list({json.dumps(item, sort_keys=True): item for item in sweep}.values())


def measure(
    label: str,
    factory: str,
    corpus: Vectors,
    queries: Vectors,
    truth: Ids,
    deleted: Deletions | None,
) -> list[Row]:
    """Build ``factory`` on ``corpus`` and measure each search setting against ``truth``."""
    started = time.perf_counter()
    index = build_vector_index(corpus, factory)
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.faiss"
        faiss.write_index(index, str(path))
        bytes_per_vector = path.stat().st_size / len(corpus)
    rows = []
    rule = search_parameters(index)
    space = faiss.ParameterSpace()
    for parameters in _settings(index):
        for name, value in parameters.items():
            space.set_index_parameter(index, name, value)
        times, recall = _search_all(index, queries, truth, deleted)
        rows.append(
            Row(
                label,
                factory,
                ",".join(f"{name}={value}" for name, value in parameters.items()),
                factory == choose_factory(len(corpus)) and parameters == rule,
                len(corpus),
                round(build_s, 2),
                round(bytes_per_vector, 1),
                round(statistics.median(times), 3),
                round(float(np.percentile(times, 99)), 3),
                round(recall, 4),
            )
        )
    return rows


def _search_all(
    index: Any, queries: Vectors, truth: Ids, deleted: Deletions | None
) -> tuple[list[float], float]:
    """Per-query search times in ms (after a warm-up), and mean recall@10 against truth."""
    for query in queries[:20]:
        search(index, query, K, deleted)
    times: list[float] = []
    found = 0
    for query, expected in zip(queries, truth, strict=True):
        started = time.perf_counter()
        _, ids = search(index, query, K, deleted)
        times.append((time.perf_counter() - started) * 1000)
        found += len(np.intersect1d(ids, expected))
    return times, found / truth.size


RSS_PROBE = """
import sys, numpy as np
from pathlib import Path
from indexer.vectors import read_vector_index, prepare_for_search, search
def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return [int(fields[name].split()[0]) / 1024 for name in ("RssAnon", "RssFile")]
before = rss()
index = prepare_for_search(read_vector_index(Path(sys.argv[1]), mmap=sys.argv[2] == "1"))
loaded = rss()
for query in np.load(sys.argv[3]):
    search(index, query, 10)
print(*[a - b for a, b in zip(loaded + rss(), before + before)])
"""


def serving_memory(index: Any, queries: Vectors) -> dict[str, float]:
    """MB of anonymous and file-backed RSS after reading ``index``, and after the queries.

    Each read runs in a fresh process, so earlier allocations do not hide its own.
    """
    memory: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        path, asked = Path(folder) / "index.faiss", Path(folder) / "queries.npy"
        faiss.write_index(index, str(path))
        np.save(asked, queries)
        for mmap in (False, True):
            output = subprocess.run(
                [sys.executable, "-c", RSS_PROBE, str(path), str(int(mmap)), str(asked)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            mode = "mmap" if mmap else "read"
            for name, value in zip(
                ("anon", "file", "anon_searched", "file_searched"), output, strict=True
            ):
                memory[f"{mode}_{name}_mb"] = round(float(value), 1)
    return memory


def default_factories(n: int) -> list[str]:
    """The rule's pick for ``n`` vectors, exact search, HNSW, and IVF-SQ8 at other nlists."""
    nlist = auto_nlist(n)
    factories = [choose_factory(n), "Flat"]
    if n <= HNSW_UP_TO:
        factories.append("HNSW32")
    factories += [f"IVF{lists},SQ8" for lists in (nlist // 4, nlist)]
    factories.append(f"IVF{nlist}_HNSW32,SQ8")
    return list(dict.fromkeys(factories))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="clustered set sizes")
    parser.add_argument("--factories", default="", help="';'-separated; default: a sweep")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--deleted", type=float, default=0.0, help="share of rows deleted")
    parser.add_argument("--centre-cosine", type=float, default=0.0, help="default: calibrated")
    parser.add_argument("--no-real", action="store_true", help="clustered vectors only")
    parser.add_argument("--memory", action="store_true", help="RSS read vs mmap, rule's pick")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def main() -> None:
    """Measure index types on real and clustered vectors and print the table."""
    args = _parse()
    faiss.omp_set_num_threads(1)
    load_before = os.getloadavg()
    vectors = real_embeddings(args.cache_dir)
    real, queries = vectors.passages, vectors.queries[: args.queries]
    paragraphs = real[: vectors.paragraphs]
    centre_cosine = args.centre_cosine or float(np.sqrt(neighbour_cosine(paragraphs)))
    sizes = [int(size) for size in args.sizes.split(",") if size]
    sets = [] if args.no_real else [("real", len(real))]
    sets += [("clustered", size) for size in sizes]
    rows: list[Row] = []
    memory: list[dict[str, Any]] = []
    for label, size in sets:
        corpus = (
            real
            if label == "real"
            else np.vstack(list(clustered_vectors(real, size, centre_cosine)))
        )
        rng = np.random.default_rng(1)
        deleted = rng.random(size) < args.deleted if args.deleted else None
        truth = exact_top_k(corpus, queries, K, deleted)
        factories = args.factories.split(";") if args.factories else default_factories(size)
        for factory in factories:
            packed = Deletions.of(deleted) if deleted is not None else None
            measured = measure(label, factory, corpus, queries, truth, packed)
            for row in measured:  # progress: a 1M run takes many minutes
                print(json.dumps(asdict(row)), file=sys.stderr, flush=True)
            rows += measured
        if args.memory:
            index = build_vector_index(corpus, choose_factory(size))
            memory.append(
                {
                    "vectors": label,
                    "factory": choose_factory(size),
                    "n": size,
                    **serving_memory(index, queries),
                }
            )
            del index
        del corpus
    load_after = os.getloadavg()
    report = {
        "threads": 1,
        "queries": len(queries),
        "centre_cosine": round(centre_cosine, 3),
        "deleted": args.deleted,
        "load_before": load_before,
        "load_after": load_after,
        "rows": [asdict(row) for row in rows],
        "memory": memory,
    }
    _print_report(report, rows)
    if args.json:
        print(json.dumps(report))


def _print_report(report: dict[str, Any], rows: list[Row]) -> None:
    """The rows as a table, with the conditions they were measured in."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"recall@{K} against exact; one thread; {report['queries']} questions")
    for column in (
        "vectors",
        "factory",
        "search",
        "n",
        "build s",
        "bytes/vector",
        "p50 ms",
        "p99 ms",
        "recall@10",
    ):
        table.add_column(column, justify="left" if column in ("vectors", "factory") else "right")
    for row in rows:
        table.add_row(
            row.vectors,
            row.factory + (" (auto)" if row.rule else ""),
            row.search,
            f"{row.n:,}",
            f"{row.build_s:.1f}",
            f"{row.bytes_per_vector:.0f}",
            f"{row.p50_ms:.2f}",
            f"{row.p99_ms:.2f}",
            f"{row.recall_at_10:.3f}",
        )
    console = Console(width=150)
    console.print(table)
    for entry in report["memory"]:
        console.print(entry)
    console.print(
        f"centre cosine {report['centre_cosine']}, deleted {report['deleted']:.0%}; "
        f"load average before {report['load_before'][0]:.2f}, after {report['load_after'][0]:.2f}"
    )


if __name__ == "__main__":
    main()
