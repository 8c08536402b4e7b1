"""ONNX Runtime int8 against OpenVINO bf16, end to end in process, interleaved question by question.

    python -m eval.bench.backends --squad ../shared/benchmarks/squadshifts-nyt/dev.json \
        --questions 300 --work /tmp/backends

Builds one index of the file's paragraphs per embedding family (int8, and bf16 for the
fp32-compatible family) into ``--work`` (kept for the next run; the build time is printed),
then asks every question of each configuration in turn, so that all of them see the same
machine load: embedder and reader on int8 (today's default), the reader alone on bf16, and
both on bf16. Prints p50 and p99 of the read stage, the question's embedding and the whole
answer (``QueryEngine.answer``, no HTTP), each configuration's ratio to int8, and the load
average before and after. ``--build-rounds N`` first builds the first ``--build-documents``
paragraphs N times with each embedding backend, alternating, into scratch folders, and
prints each build's seconds.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from citeqa.config import Settings
from citeqa.types import Document
from eval.datasets import load_dataset

# name: (CITEQA_EMBED_BACKEND, CITEQA_READER_BACKEND)
CONFIGURATIONS = {
    "int8 (today)": ("onnx-int8", "onnx-int8"),
    "reader bf16": ("onnx-int8", "openvino-bf16"),
    "both bf16": ("openvino-bf16", "openvino-bf16"),
}


def main() -> None:
    """Build the two indexes if needed, then time every configuration, interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--build-rounds", type=int, default=0)
    parser.add_argument("--build-documents", type=int, default=300)
    args = parser.parse_args()
    from indexer.factory import make_writer
    from service.state import load_engine

    console = Console()
    dataset = load_dataset(args.squad, "squad")
    base = Settings().model_copy(update={"model_cache_dir": args.work / "model-cache"})
    if args.build_rounds:
        documents = list(dataset.documents)[: args.build_documents]
        _time_builds(console, base, documents, args.build_rounds, args.work)
    if args.questions == 0:  # builds only
        return
    engines = {}
    for name, (embed, read) in CONFIGURATIONS.items():
        settings = base.model_copy(
            update={
                "embed_backend": embed,
                "reader_backend": read,
                "index_dir": args.work / f"index-{embed}",
            }
        )
        if not settings.index_dir.exists():
            load = os.getloadavg()[0]
            started = time.perf_counter()
            make_writer(settings).add_documents(list(dataset.documents))
            console.print(
                f"built {settings.index_dir} with {embed} in "
                f"{time.perf_counter() - started:.1f} s (load {load:.2f} before, "
                f"{os.getloadavg()[0]:.2f} after)"
            )
        engines[name] = load_engine(settings)
    step = max(len(dataset.questions) // args.questions, 1)  # spread over the whole file
    questions = [q.question for q in dataset.questions[::step]][: args.questions]
    for question in questions[: args.warmup]:
        for engine in engines.values():
            engine.answer(question)
    load_before = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {name: {} for name in engines}
    for question in questions:
        for name, engine in engines.items():
            started = time.perf_counter()
            result = engine.answer(question)
            total = (time.perf_counter() - started) * 1000
            for stage, value in [("answer", total), *result.timings_ms.items()]:
                times[name].setdefault(stage, []).append(value)
    load_after = os.getloadavg()
    _print(console, times, len(questions))
    console.print(
        f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"{os.cpu_count()} cores"
    )


def _time_builds(
    console: Console, base: Settings, documents: list[Document], rounds: int, work: Path
) -> None:
    """Build ``documents`` ``rounds`` times with each embedding backend, alternating."""
    import shutil

    from indexer.factory import make_embedder, make_processor, make_writer

    backends = ("onnx-int8", "openvino-bf16")
    settings = {b: base.model_copy(update={"embed_backend": b}) for b in backends}
    embedders = {b: make_embedder(settings[b]) for b in backends}  # loaded once, as a server
    seconds: dict[str, list[float]] = {b: [] for b in backends}
    for number in range(rounds):
        order = backends if number % 2 == 0 else backends[::-1]
        for backend in order:
            target = work / f"scratch-{backend}"
            shutil.rmtree(target, ignore_errors=True)
            processor = make_processor(settings[backend], embedders[backend])
            load = os.getloadavg()[0]
            started = time.perf_counter()
            make_writer(settings[backend], target, processor).add_documents(documents)
            seconds[backend].append(time.perf_counter() - started)
            console.print(
                f"round {number + 1}: {backend} built {len(documents)} documents in "
                f"{seconds[backend][-1]:.1f} s (load {load:.2f} before)"
            )
            shutil.rmtree(target, ignore_errors=True)
    ratio = sum(seconds["openvino-bf16"]) / sum(seconds["onnx-int8"])
    console.print(f"build time, bf16 / int8 over {rounds} rounds: {ratio:.2f}")


def _print(console: Console, times: dict[str, dict[str, list[float]]], count: int) -> None:
    table = Table(title=f"{count} questions, each asked of every configuration in turn")
    for column in ("configuration", "stage", "p50 ms", "p99 ms", "p50 / int8"):
        table.add_column(column, justify="right")
    baseline = next(iter(times.values()))
    for name, stages in times.items():
        for stage in ("embed", "read", "answer"):
            p50 = float(np.percentile(stages[stage], 50))
            ratio = p50 / float(np.percentile(baseline[stage], 50))
            table.add_row(
                name,
                stage,
                f"{p50:.1f}",
                f"{np.percentile(stages[stage], 99):.1f}",
                f"{ratio:.2f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
