"""Index-build throughput against the raw model on the same texts.

    python -m eval.bench.index_throughput [--source seeds] [--squad PATH] [--repeat 3]

Builds a fresh index of the source, then times ``model.encode`` alone on exactly the texts
the indexer embedded (chunks and sentences) in the same process and prints the ratio
(indexer chunks/s over raw chunks/s). The target is >= 0.9: the indexer should cost little
beyond the model.

The build runs single-threaded torch in one thread per core (indexer/parallel.py), which
uses a small CPU better than ``model.encode``'s own threads. So the table also times the
model alone under that same scheme ("threaded encode"): the stricter ratio against it is
what spaCy, chunking and storage cost on top of the model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from citeqa.config import Settings
from indexer.embedding import Embedder
from indexer.factory import make_processor, make_writer
from indexer.index import load_index
from indexer.parallel import SlicedEncoder, torch_threads


def _squad_folder(path: Path, target: Path) -> Path:
    """Write every paragraph of a SQuAD file as a .txt article (outside the repository)."""
    data = json.loads(path.read_text())["data"]
    target.mkdir(parents=True, exist_ok=True)
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            (target / f"{a:04d}-{p:03d}.txt").write_text(paragraph["context"], encoding="utf-8")
    return target


def _threaded_encode(embedder: Embedder, groups: list[list[str]], workers: int) -> float:
    """Seconds to encode ``groups`` the way the indexer does: one torch thread per worker."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool, torch_threads(1):
        encoder = SlicedEncoder(pool, embedder, workers)
        gathers = [encoder.submit(texts) for texts in groups]
        for gather in gathers:
            gather()
    return time.perf_counter() - started


def main() -> None:
    """Time index builds against the raw encoder and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("seeds"))
    parser.add_argument("--squad", type=Path, help="Index a SQuAD JSON's paragraphs instead.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    processor = make_processor(settings)
    embedder = processor.embedder
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        source = _squad_folder(args.squad, Path(scratch) / "src") if args.squad else args.source
        for run in range(args.repeat):
            index_dir = Path(scratch) / f"index-{run}"
            started = time.perf_counter()
            report = make_writer(settings, index_dir, processor).build([source])
            build_seconds = time.perf_counter() - started
            index = load_index(index_dir, embedder)
            texts = [c.text for c in index.chunks]
            texts += [
                index.documents[d].text[int(s) : int(e)]
                for d, s, e in zip(
                    index.sentences.doc_ids, index.sentences.starts, index.sentences.ends,
                    strict=True,
                )
            ]  # fmt: skip
            started = time.perf_counter()
            embedder.encode_documents([c.text for c in index.chunks])
            embedder.encode_documents(texts[len(index.chunks) :])
            raw_seconds = time.perf_counter() - started
            groups = [texts[: len(index.chunks)], texts[len(index.chunks) :]]
            threaded_seconds = _threaded_encode(embedder, groups, processor.workers)
            rows.append((report.chunks, len(texts), build_seconds, raw_seconds, threaded_seconds))
    table = Table(title=f"index build throughput ({source})")
    for column in ("run", "chunks", "texts embedded", "build s", "raw encode s",
                   "threaded encode s", "build chunks/s", "raw chunks/s", "ratio",
                   "ratio vs threaded"):  # fmt: skip
        table.add_column(column, justify="right")
    ratios, strict = [], []
    for run, (chunks, embedded, build, raw, threaded) in enumerate(rows, start=1):
        ratios.append(raw / build)  # (chunks / build) / (chunks / raw)
        strict.append(threaded / build)
        table.add_row(
            str(run), str(chunks), str(embedded), f"{build:.2f}", f"{raw:.2f}",
            f"{threaded:.2f}", f"{chunks / build:.1f}", f"{chunks / raw:.1f}",
            f"{ratios[-1]:.2f}", f"{strict[-1]:.2f}",
        )  # fmt: skip
    console = Console(width=200)
    console.print(table)
    console.print(
        f"median ratio {statistics.median(ratios):.2f} (target >= 0.90); against the "
        f"threaded encode {statistics.median(strict):.2f} ({processor.workers} workers)"
    )


if __name__ == "__main__":
    main()
