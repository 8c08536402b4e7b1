"""Span reader speed per question on this machine: how to run the windows.

    python -m eval.bench.reader_speed [--questions 100] [--passages 4] [--window 192] [--bf16]

Reads real windows (the seed gold questions against the seed articles' paragraphs, the
longest ones first) with the shipped reader in each plan, interleaved round by round so
that a busy machine slows every plan alike, and prints p50/p99 per question with the load
average. ``--bf16`` adds OpenVINO bf16 on ``model-fp16.onnx`` (CITEQA_READER_BACKEND), its
windows side by side on one thread each (the served plan) and in one batch on two threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from citeqa.config import packaged_reader_path
from eval.datasets import load_gold
from service.reading.reader import SpanReader

REPO = Path(__file__).resolve().parents[2]


def _paragraphs() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    paragraphs = [line for text in texts for line in text.splitlines() if len(line) > 200]
    return sorted(paragraphs, key=len, reverse=True)


def _plans(window: int) -> dict[str, Callable[[str, list[str]], object]]:
    sequential = SpanReader(packaged_reader_path(), threads=2, max_length=window)
    batched = SpanReader(packaged_reader_path(), threads=2, max_length=window, batch_size=8)
    single = SpanReader(packaged_reader_path(), threads=1, max_length=window)
    pool = ThreadPoolExecutor(max_workers=2)

    def parallel(question: str, contexts: list[str]) -> object:
        # Two windows at a time, each on one thread: ONNX Runtime releases the GIL.
        halves = [contexts[0::2], contexts[1::2]]
        return list(pool.map(lambda part: single.read(question, part, [0] * len(part)), halves))

    return {
        "one window at a time, 2 threads": lambda q, c: sequential.read(q, c, [0] * len(c)),
        "one batch, 2 threads": lambda q, c: batched.read(q, c, [0] * len(c)),
        "two windows side by side, 1 thread each": parallel,
    }


def _bf16_plans(window: int) -> dict[str, Callable[[str, list[str]], object]]:
    from citeqa.onnx import open_session
    from service.reading.int8 import FP16_WEIGHTS_FILE
    from service.reading.reader import OnnxLogits

    # The served plan: every window in one call on two threads.
    batched = SpanReader(
        packaged_reader_path(), threads=2, max_length=window, backend="openvino-bf16"
    )
    side_by_side = SpanReader(
        packaged_reader_path(),
        threads=2,
        max_length=window,
        batch_size=1,
        backend="openvino-bf16",
    )
    # Two streams of one thread each, and the reader's pool to fill them.
    side_by_side.model = OnnxLogits(
        open_session(packaged_reader_path() / FP16_WEIGHTS_FILE, "openvino-bf16", 1, side_by_side=2)
    )
    side_by_side._pool = ThreadPoolExecutor(2)
    return {
        "bf16: two windows side by side, 1 thread each": lambda q, c: side_by_side.read(
            q, c, [0] * len(c)
        ),
        "bf16: one batch, 2 threads": lambda q, c: batched.read(q, c, [0] * len(c)),
    }


def main() -> None:
    """Time the span reader's ways of running its windows and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--passages", type=int, default=4)
    parser.add_argument("--window", type=int, default=192)
    parser.add_argument("--bf16", action="store_true", help="add OpenVINO bf16 plans")
    args = parser.parse_args()
    gold = [q.question for q in load_gold(REPO / "eval" / "gold" / "seeds.jsonl")]
    paragraphs = _paragraphs()
    plans = _plans(args.window) | (_bf16_plans(args.window) if args.bf16 else {})
    times: dict[str, list[float]] = {name: [] for name in plans}
    load_before = os.getloadavg()[0]
    for i in range(args.questions):
        question = gold[i % len(gold)]
        contexts = [paragraphs[(i + k) % len(paragraphs)] for k in range(args.passages)]
        for name, plan in plans.items():
            started = time.perf_counter()
            plan(question, contexts)
            times[name].append((time.perf_counter() - started) * 1000)
    table = Table(
        title=f"reader per question: {args.passages} windows of <= {args.window} tokens, "
        f"{args.questions} questions"
    )
    for column in ("plan", "p50 ms", "p99 ms", "mean ms"):
        table.add_column(column, justify="right")
    for name, values in times.items():
        table.add_row(
            name,
            f"{np.percentile(values, 50):.1f}",
            f"{np.percentile(values, 99):.1f}",
            f"{statistics.mean(values):.1f}",
        )
    Console().print(table)
    Console().print(
        f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
