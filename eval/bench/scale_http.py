"""The scale benchmark's end-to-end stage: the index served by `citeqa serve`, over HTTP.

What a user sees, beside the layer figures of ``eval.bench.scale``: ``/v1/query`` with the
reader on and each question embedded by the server's model, at one and two clients after a
pause past ready; ``POST /v1/documents`` with its reload (and warm-up) included, one write
alone and, separately, the first write that made the writer merge segments; and the
server's memory, anonymous apart from the page cache of its memory-mapped files.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from eval.bench.http_load import Latencies, Server, ask_in_turn, run_level, served
from indexer.generations import current_generation
from indexer.manifest import Manifest

MB = 1024 * 1024
API_KEY = "scale-benchmark-key"
# Writes until a merge: the tiered policy merges ten segments of one tier at a time
# (CITEQA_SEGMENT_MERGE_FACTOR), and each single-document write adds one small segment.
MAX_WRITES = 12


def memory_figures(pid: int) -> dict[str, float]:
    """A process's resident memory by kind (``/proc/PID/status``) and its mapped bytes."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "VmSize"):
            fields[name] = int(value.split()[0]) / 1024
    maps = psutil.Process(pid).memory_maps(grouped=True)
    # File-backed mappings: the index's memory-mapped tables and vectors, models, libraries.
    mapped_files = sum(m.size for m in maps if m.path.startswith("/")) / MB
    return {
        "rss_mb": fields.get("VmRSS", float("nan")),
        "rss_anon_mb": fields.get("RssAnon", float("nan")),
        "rss_file_mb": fields.get("RssFile", float("nan")),
        "mapped_total_mb": fields.get("VmSize", float("nan")),
        "mapped_files_mb": mapped_files,
    }


def _segment_count(index_dir: Path) -> int:
    return len(Manifest.read(current_generation(index_dir)).segments)


def post_document(url: str, doc_id: str, text: str) -> float:
    """Seconds ``POST /v1/documents`` took to add a document (the new generation served).

    Raises:
        RuntimeError: The server did not answer 200 with ``"status": "added"`` (a document it
            already holds is not written, so its time is no write's).
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=600)
    body = json.dumps({"doc_id": doc_id, "text": text})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    try:
        started = time.perf_counter()
        connection.request("POST", "/v1/documents", body, headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if response.status != 200 or json.loads(payload).get("status") != "added":
        raise RuntimeError(f"POST /v1/documents answered {response.status}: {payload[:300]!r}")
    return elapsed


def _writes(server: Server, index_dir: Path, texts: list[str]) -> dict[str, Any]:
    """One write, then writes until the writer merges; their seconds."""
    times: list[float] = []
    merge_s: float | None = None
    segments = _segment_count(index_dir)
    # New ids and texts at every run: a --serve-only run over an index an earlier run wrote
    # to must add documents, not find them unchanged.
    run = time.strftime("%Y%m%d%H%M%S")
    for number in range(MAX_WRITES):
        elapsed = post_document(
            server.url,
            f"scale-add-{run}-{number}",
            texts[number % len(texts)] + f"\n\n({run}, {number})",
        )
        times.append(elapsed)
        now = _segment_count(index_dir)
        if now < segments + 1:  # fewer than one more: this write merged segments
            merge_s = elapsed
            break
        segments = now
    return {
        "api_add_one_s": times[0],
        "api_add_merge_s": merge_s,
        "api_add_writes": len(times),
        "api_add_s": times,
    }


def http_stage(
    index_dir: Path,
    questions: list[str],
    texts: list[str],
    environment: dict[str, str],
    queries: int = 200,
    pause_s: float = 5.0,
    two_client_seconds: float = 10.0,
) -> dict[str, Any]:
    """Serve ``index_dir`` with `citeqa serve` and measure it as a user would."""
    with served(index_dir, {**environment, "CITEQA_API_KEY": API_KEY}) as server:
        time.sleep(pause_s)  # past ready, as a user's first query would come
        times = ask_in_turn(server.url, questions, queries)
        one = Latencies.of(times)
        two = run_level(server.url, questions, 2, two_client_seconds, server.pid)
        memory = memory_figures(server.pid)
        writes = _writes(server, index_dir, texts)
        # After the writes too: what a write keeps (caches, the retired generation) shows.
        writes["http_rss_anon_after_writes_mb"] = memory_figures(server.pid)["rss_anon_mb"]
    return {
        "http_ready_s": server.ready_s,
        "http_p50_ms": one.p50_ms,
        "http_p99_ms": one.p99_ms,
        "http_2clients_p50_ms": two.p50_ms,
        "http_2clients_p99_ms": two.p99_ms,
        "http_2clients_qps": two.queries_per_s,
        "http_2clients_errors": two.errors,
        **{f"http_{name}": value for name, value in memory.items()},
        **writes,
    }
