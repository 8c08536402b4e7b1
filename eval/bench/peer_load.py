"""citeqa over HTTP beside txtai's own API server, under the same load.

    make .venv-peers/.installed     # txtai[api] and Haystack in their own environment
    python -m eval.bench.peer_load --index-dir DIR --dataset FILE --clients 1,2,4,8 \\
        [--seconds 20] [--peers-python .venv-peers/bin/python] [--work DIR] [--json]

txtai gets the index ``eval.bench.peers`` builds (dense and BM25 "hybrid", FAISS, the same
MiniLM) over the same corpus as the citeqa index at ``--index-dir`` (the dataset's
documents), served by ``uvicorn txtai.api:app`` with one worker, and is asked
``GET /search?query=...&limit=5``. citeqa is ``citeqa serve`` on ``--index-dir``, asked
``POST /v1/query``. The two do different work: txtai's search returns ranked ids, citeqa's
query also reads three passages with its span reader, checks disagreement and cites. So the
table shows, besides each server's figures, the CPU each spends on one question.

Both servers run for the whole benchmark; the levels alternate between them (citeqa, then
txtai, at each client count), so a shared machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.table import Table

from citeqa.config import default_embedding_model
from eval.bench.http_load import LevelResult, free_port, run_level, served, stop
from eval.bench.load import load_questions
from eval.bench.peers import REPO, _phase, _write_inputs

SEARCH_LIMIT = 5


def txtai_search(question: str) -> tuple[str, str, str | None]:
    """``GET /search`` of txtai's API: the question's top ids."""
    return "GET", f"/search?query={quote(question)}&limit={SEARCH_LIMIT}", None


@contextmanager
def txtai_served(python: str, index: Path, work: Path) -> Iterator[tuple[str, int]]:
    """txtai's API over ``index`` in a child process; its URL and process id."""
    config = work / "txtai-api.yml"
    # The API loads the index saved at `path`; it routes /search only when the config names
    # `embeddings` (empty: the saved index's own settings apply).
    config.write_text(f"path: {index}\nwritable: false\nembeddings:\n")
    port = free_port()
    environment = {**os.environ, "CONFIG": str(config), "HF_HUB_OFFLINE": "1"}
    command = [python, "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--log-level", "warning"]
    child = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_searching(url, child)
        yield url, child.pid
    finally:
        stop(child)


def _wait_searching(url: str, child: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    from eval.bench.http_load import QueryClient

    client = QueryClient(url, txtai_search)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise RuntimeError(f"txtai's API exited with {child.returncode}")
            if client.ask("ready?")[1]:
                return
            time.sleep(0.2)
    finally:
        client.close()
    raise RuntimeError(f"txtai's API did not answer within {timeout_s:.0f} s")


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Build txtai's index, serve both, and measure each client level on each."""
    work: Path = options.work
    work.mkdir(parents=True, exist_ok=True)
    _write_inputs(options.dataset, 10, work)
    index = work / "txtai" / "index"
    if not index.exists():
        _phase(options.peers_python, "txtai", "build", work, options.model)
    questions = load_questions(options.dataset)
    levels = [int(c) for c in options.clients.split(",")]
    results: dict[str, list[LevelResult]] = {"citeqa": [], "txtai": []}
    load_before = os.getloadavg()
    with (
        served(options.index_dir) as citeqa,
        txtai_served(options.peers_python, index, work) as (txtai_url, txtai_pid),
    ):
        for clients in levels:
            run_level(citeqa.url, questions, clients, 2.0)  # warm-up, not counted
            results["citeqa"].append(
                run_level(citeqa.url, questions, clients, options.seconds, citeqa.pid)
            )
            run_level(txtai_url, questions, clients, 2.0, route=txtai_search)
            results["txtai"].append(
                run_level(txtai_url, questions, clients, options.seconds, txtai_pid, txtai_search)
            )
    return {
        "levels": {name: [asdict(r) for r in rows] for name, rows in results.items()},
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def _table(result: dict[str, Any]) -> Table:
    table = Table(title="citeqa POST /v1/query (reader on) and txtai GET /search over HTTP")
    for column in ("system", "clients", "q/s", "p50 ms", "p99 ms", "errors", "CPU ms/query"):
        table.add_column(column, justify="right")
    for name, rows in result["levels"].items():
        for row in rows:
            cpu = row["server_cpu_ms_per_query"]
            table.add_row(
                name,
                str(row["clients"]),
                f"{row['queries_per_s']:.1f}",
                f"{row['p50_ms']:.1f}",
                f"{row['p99_ms']:.1f}",
                str(row["errors"]),
                f"{cpu:.1f}" if cpu is not None else "-",
            )
    return table


def main() -> None:
    """Parse the options, run, and print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True, help="citeqa's index")
    parser.add_argument("--dataset", type=Path, required=True, help="SQuAD JSON: corpus")
    parser.add_argument("--clients", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--peers-python", default=str(REPO / ".venv-peers" / "bin" / "python"))
    parser.add_argument("--model", default=default_embedding_model())
    parser.add_argument("--work", type=Path, default=REPO / "eval-out" / "peer-load")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    if not Path(options.peers_python).exists():
        sys.exit(f"{options.peers_python} is missing: run `make .venv-peers/.installed` first")
    result = run(options)
    console = Console()
    console.print(_table(result))
    before, after = result["load_before"], result["load_after"]
    console.print(f"load average before: {before[0]:.2f}; after: {after[0]:.2f}")
    if options.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
