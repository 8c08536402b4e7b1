"""`citeqa eval`: build (or reuse) an index for a dataset, run it, write the report."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from citeqa.config import Settings
from citeqa.terminal import print_table
from eval.datasets import Dataset, load_dataset, remove_articles, spread
from eval.errors import DatasetError, EvalError
from eval.predictions import Answerer, LocalAnswerer, RemoteAnswerer
from eval.report import results_table, run_info, write_report
from eval.runner import (
    CONFIGURATIONS,
    DEFAULT_CONFIGURATION,
    ConfigurationResult,
    evaluate_configuration,
    index_dir_for,
)

console = Console(stderr=True)


def _local_engine(dataset: Dataset, settings: Settings, out: Path, corpus: Path | None):  # type: ignore[no-untyped-def]
    from indexer.factory import make_writer
    from service.state import load_engine

    if dataset.documents:
        index_dir = index_dir_for(dataset, out, settings)
        writer = make_writer(settings, index_dir, show_progress=True)
        report = writer.add_documents(list(dataset.documents))
        console.print(
            f"index {index_dir}: {report.documents} documents, {report.chunks} chunks "
            f"({len(report.added)} new)"
        )
    else:
        if corpus is None:
            raise DatasetError("a gold JSONL needs --corpus (the folder its doc_ids come from)")
        index_dir = out / "indexes" / f"{dataset.name}-corpus"
        report = make_writer(settings, index_dir, show_progress=True).build([corpus])
        for skipped in report.skipped:
            console.print(f"[yellow]skipped[/yellow] {skipped.path}: {skipped.reason}")
    engine = load_engine(settings.model_copy(update={"index_dir": index_dir}))
    warn_missing_gold(dataset, set(engine.index.manifest.content_hashes))
    return engine


# Questions named when gold documents are missing from the corpus.
SHOWN_QUESTIONS = 10


def warn_missing_gold(dataset: Dataset, indexed: set[str]) -> None:
    """Name the questions whose gold documents the index lacks: a wrong --corpus or a
    mistyped id scores as a retrieval miss, silently, unless said here. (Articles left out
    on purpose by --remove-articles are no longer among the questions' documents.)"""
    missing = {q.id: sorted(set(q.doc_ids) - indexed) for q in dataset.questions}
    missing = {qid: ids for qid, ids in missing.items() if ids}
    if not missing:
        return
    named = list(missing.items())[:SHOWN_QUESTIONS]
    shown = "; ".join(f"{qid} ({', '.join(ids)})" for qid, ids in named)
    more = f" and {len(missing) - len(named)} more" if len(missing) > len(named) else ""
    message = (
        f"{len(missing)} of {len(dataset.questions)} questions name documents the index does "
        f"not hold: {shown}{more}; check --corpus and the doc_ids (they score as retrieval "
        "misses)"
    )
    console.print(f"[yellow]warning[/yellow] {escape(message)}")


def run_evaluation(
    dataset_path: Path,
    out: Path,
    settings: Settings,
    *,
    dataset_format: str | None = None,
    configurations: list[str] | None = None,
    against: str | None = None,
    corpus: Path | None = None,
    limit: int | None = None,
    top_k: int = 5,
    remove_fraction: float = 0.0,
    seed: int = 0,
) -> list[ConfigurationResult]:
    """Evaluate every configuration on the dataset and write DIR/report.{json,md} and more.

    ``remove_fraction`` of the dataset's articles (drawn with ``seed``) are left out of the
    corpus, so the questions about them test abstention.
    """
    dataset = _select(load_dataset(dataset_path, dataset_format), remove_fraction, seed, limit)
    names = configurations or list(CONFIGURATIONS)
    unknown = [n for n in names if n not in CONFIGURATIONS]
    if unknown:
        raise EvalError(f"unknown configuration {unknown}; choose from {list(CONFIGURATIONS)}")
    answerers: dict[str, Answerer]
    if against:
        answerers = {"service": RemoteAnswerer(against)}
    else:
        engine = _local_engine(dataset, settings, out, corpus)
        answerers = {n: LocalAnswerer(engine, CONFIGURATIONS[n]) for n in names}
    results = _evaluate_each(dataset, answerers, top_k)
    info = run_info(
        dataset.name,
        {
            "questions": len(dataset.questions),
            "documents": len(dataset.documents),
            "against": against,
            "default_configuration": DEFAULT_CONFIGURATION,
            "removed_articles": remove_fraction,
            "seed": seed,
        },
    )
    write_report(out, info, results)
    print_table(results_table(results, f"{dataset.name} ({len(dataset.questions)} questions)"))
    console.print(f"report written to {out}/report.md")
    return results


def _select(dataset: Dataset, remove_fraction: float, seed: int, limit: int | None) -> Dataset:
    """The dataset without ``remove_fraction`` of its articles, and at most ``limit`` questions."""
    if remove_fraction:
        try:
            dataset = remove_articles(dataset, remove_fraction, seed)
        except ValueError as error:
            raise EvalError(f"--remove-articles: {error}") from error
    return spread(dataset, limit)


def _evaluate_each(
    dataset: Dataset, answerers: dict[str, Answerer], top_k: int
) -> list[ConfigurationResult]:
    """Each answerer's results on the dataset, with a progress bar and one line each."""
    results = []
    with Progress(console=console, transient=True) as progress:
        for name, answerer in answerers.items():
            task = progress.add_task(name, total=len(dataset.questions))
            started = time.perf_counter()
            results.append(
                evaluate_configuration(
                    name,
                    dataset,
                    answerer,
                    top_k=top_k,
                    progress=lambda t=task: progress.advance(t),  # type: ignore[misc]
                )
            )
            # The bar is transient (and never drawn off a terminal): this line stays, in a
            # log too, to say what ran and how long it took.
            progress.console.print(
                f"{name}: {len(dataset.questions)} questions in "
                f"{time.perf_counter() - started:.1f} s"
            )
    return results
