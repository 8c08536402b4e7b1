"""End-to-end /v1/query latency on an index, p50 and p99, with the share of each stage.

    python -m eval.bench.query_latency [--index-dir DIR] [--questions 200] [--http]

Questions come from the seed gold set (cycled to the requested count). By default the app
runs in process through FastAPI's TestClient, so the figure includes validation and JSON
serialisation; the per-stage split comes from the response's ``timings_ms``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from citeqa.config import Settings
from eval.datasets import load_gold

GOLD = Path(__file__).resolve().parents[1] / "gold" / "seeds.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from service.main import create_app

    settings = Settings()
    if args.index_dir:
        settings = settings.model_copy(update={"index_dir": args.index_dir})
    gold = [q.question for q in load_gold(GOLD)]
    questions = [gold[i % len(gold)] for i in range(args.questions)]
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    with TestClient(create_app(settings)) as client:
        for question in gold[: args.warmup]:
            client.post("/v1/query", json={"question": question})
        for question in questions:
            started = time.perf_counter()
            response = client.post("/v1/query", json={"question": question})
            totals.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            for stage, ms in response.json()["timings_ms"].items():
                stages.setdefault(stage, []).append(ms)
    table = Table(title=f"/v1/query latency over {len(totals)} questions ({settings.index_dir})")
    for column in ("stage", "p50 ms", "p99 ms", "mean ms", "share of total"):
        table.add_column(column, justify="right")
    mean_total = statistics.mean(totals)
    for stage, values in stages.items():
        if stage == "total":
            continue
        table.add_row(
            stage, f"{np.percentile(values, 50):.1f}", f"{np.percentile(values, 99):.1f}",
            f"{statistics.mean(values):.1f}", f"{statistics.mean(values) / mean_total:.0%}",
        )  # fmt: skip
    table.add_row(
        "end to end (HTTP)", f"{np.percentile(totals, 50):.1f}", f"{np.percentile(totals, 99):.1f}",
        f"{mean_total:.1f}", "100%",
    )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
