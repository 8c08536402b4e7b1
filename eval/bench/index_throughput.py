"""Index-build throughput against the raw model on the same texts, and what each stage costs.

    python -m eval.bench.index_throughput [--source seeds] [--squad PATH] [--repeat 3]

Builds a fresh index of the source with the configured backend (``CITEQA_EMBED_BACKEND``),
then encodes exactly the texts the indexer embedded (chunks and sentences) in the same
process, two ways: one call on every core ("raw encode": ``model.encode`` for torch, one
ONNX Runtime session with one intra-op thread per core), and the indexer's own scheme
("threaded encode": one single-threaded encode per core side by side, indexer/parallel.py).
The ratio is the build's throughput over the faster of the two: the target is >= 0.9, the
indexer should cost little beyond the model.

Then each stage runs alone on the same documents and the table gives its seconds: cleaning
and chunking, spaCy as configured and as the other choice (sentences alone by ``senter``, or
the parser and NER), chunk and sentence embeddings, BM25, SQLite and FAISS. The load
average is printed beside the figures: on a shared machine they are provisional.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from citeqa.config import Settings
from indexer.annotate import Annotator, load_spacy
from indexer.embedding import Embedder
from indexer.factory import make_processor, make_writer
from indexer.index import Index, load_index
from indexer.loaders import load_paths
from indexer.parallel import SlicedEncoder
from indexer.processing import DocumentProcessor
from indexer.segment_builder import SegmentBuilder
from indexer.terms import TermCounter
from indexer.vectors import AUTO


def _squad_folder(path: Path, target: Path) -> Path:
    """Write every paragraph of a SQuAD file as a .txt article (outside the repository)."""
    data = json.loads(path.read_text())["data"]
    target.mkdir(parents=True, exist_ok=True)
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            (target / f"{a:04d}-{p:03d}.txt").write_text(paragraph["context"], encoding="utf-8")
    return target


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _threaded_encode(embedder: Embedder, groups: list[list[str]], workers: int) -> float:
    """Seconds to encode ``groups`` the way the indexer does: one thread per core."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool, embedder.single_threaded():
        encoder = SlicedEncoder(pool, embedder, workers)
        gathers = [encoder.submit(texts) for texts in groups]
        for gather in gathers:
            gather()
    return time.perf_counter() - started


def _raw_encode(embedder: Embedder, texts: list[str], cores: int) -> float:
    """Seconds for one encode call of ``texts`` on every core."""
    if embedder.backend == "torch":
        return _timed(lambda: embedder.encode_documents(texts))
    from citeqa.onnx import OnnxEncoder

    assert embedder._onnx is not None
    current = embedder._onnx
    tokenizer = Path(embedder.model_path) / "tokenizer.json"
    encoder = OnnxEncoder(
        current.path,
        tokenizer,
        embedder.max_tokens,
        threads=cores,
        token_budget=current.token_budget,
    )
    encoder.encode(texts[:16])
    return _timed(lambda: encoder.encode(texts, embedder.batch_size))


def _stage_costs(
    processor: DocumentProcessor, source: Path, settings: Settings, scratch: Path
) -> list[tuple[str, float, int]]:
    """Each build stage alone on ``source``: (stage, seconds, items)."""
    documents = load_paths([source]).documents
    rows: list[tuple[str, float, int]] = []
    started = time.perf_counter()
    prepared = [processor._prepare(d) for d in documents]
    rows.append(("clean, metadata, chunk", time.perf_counter() - started, len(documents)))
    inputs = [(p.document.text, p.paragraphs) for p in prepared]
    configured = processor.annotator
    other = Annotator(load_spacy(settings.spacy_model, entities=not configured.entities))
    annotations = []
    for annotator in (configured, other):
        label = ("parser + NER" if annotator.entities else "senter") + (
            " (configured)" if annotator is configured else " (the other choice)"
        )
        started = time.perf_counter()
        found = list(annotator.annotate_many(inputs))
        rows.append((f"spaCy: {label}", time.perf_counter() - started, len(inputs)))
        annotations.append(found)
    found = annotations[0]
    chunks = [c.text for p in prepared for c in p.chunks]
    sentences = [
        p.document.text[s.start : s.end]
        for p, a in zip(prepared, found, strict=True)
        for s in a.sentences
    ]
    embedder, workers = processor.embedder, processor.workers
    rows.append(("chunk embeddings", _threaded_encode(embedder, [chunks], workers), len(chunks)))
    rows.append(
        ("sentence embeddings", _threaded_encode(embedder, [sentences], workers), len(sentences))
    )
    counter = TermCounter()
    rows.append(
        ("terms (postings)", _timed(lambda: [counter.counts(c) for c in chunks]), len(chunks))
    )
    processed = [item for item in processor.process(documents) if item.chunks]

    def write_segment() -> None:
        builder = SegmentBuilder(scratch / "stage-segment", embedder.dimension, AUTO)
        for item in processed:
            builder.add(item)
        builder.finish("s000001")

    rows.append(("segment (SQLite, terms, FAISS)", _timed(write_segment), len(processed)))
    return rows


Row = tuple[int, int, float, float, float, str]


def _embedded_texts(index: Index) -> list[str]:
    """Every text a build embeds: the chunks, then each document's sentences."""
    texts = [c.text for c in index.chunks]
    for segment in index.segments:
        for row in range(len(segment.doc_ids)):
            text = segment.document(row).text
            texts += [
                text[s.start : s.end] for s in segment.sentence_spans(segment.sentence_rows(row))
            ]
    return texts


def _throughput_table(rows: list[Row], title: str) -> tuple[Table, list[float]]:
    """One row per build, and each build's ratio to the faster raw encode."""
    table = Table(title=title)
    for column in (
        "run",
        "chunks",
        "texts embedded",
        "build s",
        "raw encode s",
        "threaded encode s",
        "texts/s build",
        "texts/s raw",
        "ratio",
        "load avg before / after",
    ):
        table.add_column(column, justify="right")
    ratios = []
    for run, (chunks, embedded, build, raw, threaded, load) in enumerate(rows, start=1):
        best = min(raw, threaded)
        ratios.append(best / build)  # (texts / build) / (texts / best)
        table.add_row(
            str(run),
            str(chunks),
            str(embedded),
            f"{build:.2f}",
            f"{raw:.2f}",
            f"{threaded:.2f}",
            f"{embedded / build:.1f}",
            f"{embedded / best:.1f}",
            f"{ratios[-1]:.2f}",
            load,
        )
    return table, ratios


def _stage_table(stages: list[tuple[str, float, int]]) -> Table:
    table = Table(title=f"each stage alone (load avg {_load()})")
    for column in ("stage", "seconds", "items", "items/s"):
        table.add_column(column, justify="right")
    for name, seconds, items in stages:
        table.add_row(name, f"{seconds:.2f}", str(items), f"{items / seconds:.1f}")
    return table


def main() -> None:
    """Time index builds against the raw encoder and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("seeds"))
    parser.add_argument("--squad", type=Path, help="Index a SQuAD JSON's paragraphs instead.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-stages", action="store_true", help="Skip the stage table.")
    args = parser.parse_args()
    settings = Settings()
    processor = make_processor(settings)
    embedder = processor.embedder
    cores = os.cpu_count() or 1
    rows: list[Row] = []
    console = Console(width=200)
    with tempfile.TemporaryDirectory() as scratch:
        source = _squad_folder(args.squad, Path(scratch) / "src") if args.squad else args.source
        for run in range(args.repeat):
            index_dir = Path(scratch) / f"index-{run}"
            load_before = _load()
            started = time.perf_counter()
            report = make_writer(settings, index_dir, processor).build([source])
            build_seconds = time.perf_counter() - started
            index = load_index(index_dir, embedder)
            texts = _embedded_texts(index)
            index.close()
            raw_seconds = _raw_encode(embedder, texts, cores)
            groups = [texts[: report.chunks], texts[report.chunks :]]
            threaded_seconds = _threaded_encode(embedder, groups, processor.workers)
            load = f"{load_before} / {_load()}"
            rows.append(
                (report.chunks, len(texts), build_seconds, raw_seconds, threaded_seconds, load)
            )
        stages = [] if args.no_stages else _stage_costs(processor, source, settings, Path(scratch))
    title = (
        f"index build throughput ({source}; {embedder.backend}, {processor.workers} workers, "
        f"{'entities' if processor.annotator.entities else 'sentences only'})"
    )
    table, ratios = _throughput_table(rows, title)
    console.print(table)
    console.print(
        f"median ratio {statistics.median(ratios):.2f} of the faster raw encode (target >= 0.90)"
    )
    if stages:
        console.print(_stage_table(stages))


if __name__ == "__main__":
    main()
