"""End-to-end /v1/query latency on an index, p50 and p99, with the share of each stage.

    python -m eval.bench.query_latency [--index-dir DIR] [--questions 200] [--squad FILE]

Questions come from the seed gold set, or from a SQuAD-format file for an index built from
it (`--squad`), cycled to the requested count. The app runs in process through FastAPI's
TestClient, so the figure includes validation and JSON serialisation; the per-stage split
comes from the response's ``timings_ms``. The machine's load average and the process's
resident memory (models, index and reader loaded) are printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from citeqa.config import Settings
from eval.datasets import load_dataset, load_gold

GOLD = Path(__file__).resolve().parents[1] / "gold" / "seeds.jsonl"


def main() -> None:
    """Measure query latency through the REST API in process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--squad", type=Path, default=None, help="ask this file's questions")
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from service.main import create_app

    settings = Settings()
    if args.index_dir:
        settings = settings.model_copy(update={"index_dir": args.index_dir})
    if args.squad:
        squad = load_dataset(args.squad, "squad").questions
        step = max(len(squad) // args.questions, 1)  # spread over the whole file
        gold = [q.question for q in squad[::step]]
    else:
        gold = [q.question for q in load_gold(GOLD)]
    load_before = os.getloadavg()
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
    Console().print(_latency_table(totals, stages, settings.index_dir))
    load_after = os.getloadavg()
    Console().print(
        f"resident memory {_rss_mib():.0f} MiB (peak {_peak_rss_mib():.0f} MiB); load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min)"
    )


def _latency_table(totals: list[float], stages: dict[str, list[float]], index_dir: Path) -> Table:
    """Each stage's p50, p99, mean and share of the mean, then the end-to-end times."""
    table = Table(title=f"/v1/query latency over {len(totals)} questions ({index_dir})")
    for column in ("stage", "p50 ms", "p99 ms", "mean ms", "share of total"):
        table.add_column(column, justify="right")
    mean_total = statistics.mean(totals)
    for stage, values in stages.items():
        if stage == "total":
            continue
        table.add_row(
            stage,
            f"{np.percentile(values, 50):.1f}",
            f"{np.percentile(values, 99):.1f}",
            f"{statistics.mean(values):.1f}",
            f"{statistics.mean(values) / mean_total:.0%}",
        )
    table.add_row(
        "end to end (HTTP)",
        f"{np.percentile(totals, 50):.1f}",
        f"{np.percentile(totals, 99):.1f}",
        f"{mean_total:.1f}",
        "100%",
    )
    return table


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
