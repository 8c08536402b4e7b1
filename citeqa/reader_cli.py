"""`citeqa reader ...`: train, evaluate and export the extractive span reader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citeqa.cli_errors import ErrorReportingGroup, console
from service.reading.errors import ReaderError
from training.train import TrainConfig, TrainReport

# Also run on its own (tests, embedding programs): it reports errors as `citeqa` does.
reader_app = typer.Typer(
    help="Train, evaluate and export the extractive span reader.", cls=ErrorReportingGroup
)
_RECIPE = TrainConfig()
DataOption = Annotated[
    list[Path], typer.Option("--data", help="SQuAD-format JSON training file (repeatable).")
]


def _require_files(paths: list[Path]) -> None:
    """Say which input files are missing before minutes or hours of work, not after."""
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ReaderError(f"training data file not found: {', '.join(missing)}")


@reader_app.command("train")
def reader_train(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Folder for the trained checkpoint.")],
    negatives_per_question: Annotated[
        int, typer.Option(help="No-answer copies of each question (other paragraphs).")
    ] = _RECIPE.negatives_per_question,
    hard_negatives: Annotated[
        Path | None,
        typer.Option("--hard-negatives", help="File of `citeqa reader mine`: more no-answers."),
    ] = None,
    hard_negatives_per_question: Annotated[
        int, typer.Option(help="Mined passages read per question, with --hard-negatives.")
    ] = _RECIPE.hard_negatives_per_question,
    max_length: Annotated[int, typer.Option(help="Tokens per window.")] = _RECIPE.max_length,
    stride: Annotated[int, typer.Option(help="Tokens shared by windows.")] = _RECIPE.stride,
    learning_rate: Annotated[float, typer.Option(help="AdamW peak.")] = _RECIPE.learning_rate,
    weight_decay: Annotated[float, typer.Option(help="AdamW.")] = _RECIPE.weight_decay,
    warmup_ratio: Annotated[
        float, typer.Option(help="Share of steps of linear warm-up.")
    ] = _RECIPE.warmup_ratio,
    batch_size: Annotated[int, typer.Option(help="Windows per step.")] = _RECIPE.batch_size,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = _RECIPE.epochs,
    max_grad_norm: Annotated[float, typer.Option(help="Gradient clip.")] = _RECIPE.max_grad_norm,
    seed: Annotated[int, typer.Option(help="Head init, negatives, shuffling.")] = _RECIPE.seed,
    max_answer_tokens: Annotated[
        int, typer.Option(help="Longest span when decoding (recorded).")
    ] = _RECIPE.max_answer_tokens,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="First N questions (smoke runs).")
    ] = None,
    base_model: Annotated[
        Path | None,
        typer.Option("--base-model", help="Local BERT folder (default: all-MiniLM-L6-v2)."),
    ] = None,
    dev: Annotated[
        list[Path] | None,
        typer.Option("--dev", help="SQuAD-format dev file to score into the card (repeatable)."),
    ] = None,
) -> None:
    """Fine-tune the span reader by the reference recipe (the defaults) and save it."""
    config = TrainConfig(
        negatives_per_question=negatives_per_question,
        hard_negatives_per_question=hard_negatives_per_question,
        max_length=max_length,
        stride=stride,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        batch_size=batch_size,
        epochs=epochs,
        max_grad_norm=max_grad_norm,
        seed=seed,
        max_answer_tokens=max_answer_tokens,
    )
    _train(
        data, out, config, base_model=base_model, limit=limit, dev=dev or [], hard=hard_negatives
    )


def _train(
    data: list[Path],
    out: Path,
    config: TrainConfig,
    *,
    base_model: Path | None,
    limit: int | None,
    dev: list[Path],
    hard: Path | None = None,
) -> None:
    """Train by ``config``, score the dev files into the card, and say what was made."""
    from training.train import train_reader

    _require_files([*data, *dev, *([hard] if hard else [])])
    report = train_reader(
        data, out, config, base_model, show_progress=True, limit=limit, hard_negatives=hard
    )
    if dev:
        _score_into_card(report, config, limit, dev)
    console.print(
        f"trained on {report.examples:,} examples ({report.windows:,} windows, "
        f"{report.steps:,} steps, {report.device}) in {report.wall_seconds:.0f} s; "
        f"final mean loss {report.final_mean_loss:.4f}"
    )
    console.print(f"saved the reader to {out} (weights, tokenizer, MODEL_CARD.md)")
    console.print(
        f"next: citeqa reader export --model {out} --out DIR2 makes the ONNX model "
        "the service reads"
    )


def _score_into_card(
    report: TrainReport, config: TrainConfig, limit: int | None, dev: list[Path]
) -> None:
    """Score the new checkpoint on each dev file (gold paragraph) and rewrite its card."""
    from eval.reader_eval import evaluate_reader
    from service.reading.reader import SpanReader
    from training.model_card import write_run_files

    reader = SpanReader(report.out_dir, max_length=config.max_length)
    scores = {}
    for path in dev:
        result = evaluate_reader(reader, path, stride=config.stride, show_progress=True)
        scores[str(path)] = result.as_dict()
        console.print(f"{path}: EM {result.em:.3f}  F1 {result.f1:.3f}")
    write_run_files(report, config, limit, scores)


@reader_app.command("mine")
def reader_mine(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="JSONL file of the mined negatives.")],
    work_dir: Annotated[
        Path, typer.Option("--work-dir", help="Where each file's paragraph index is built.")
    ] = Path("runs/mining"),
) -> None:
    """Mine hard negatives: the passages citeqa's retrieval gives the reader for each
    training question that do not hold its answer (read by `reader train --hard-negatives`).

    Searched as the service searches (CITEQA_ settings), with the embedder, not the reader.
    """
    from citeqa.config import Settings
    from training.hard_negatives import mine_negatives
    from training.train import load_training_files

    _require_files(data)
    report = mine_negatives(load_training_files(data), out, work_dir, Settings())
    console.print(
        f"mined {report.negatives:,} negatives for {report.questions:,} questions into {out} "
        f"({report.none_found:,} questions had the answer in every passage read)"
    )
    console.print(f"next: citeqa reader train --data ... --hard-negatives {out} --out DIR")


@reader_app.command("export")
def reader_export(
    model: Annotated[Path, typer.Option("--model", help="Checkpoint saved by `reader train`.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for model-fp16.onnx and the tokenizer.")
    ],
    fp32: Annotated[
        bool, typer.Option("--fp32", help="fp32 weights in model.onnx (2x larger).")
    ] = False,
) -> None:
    """Export a trained reader to ONNX (fp16 weights) for CPU serving.

    One file: ONNX Runtime's int8 reader is derived from it at first use, OpenVINO reads it.
    """
    from training.export import export_onnx

    path = export_onnx(model, out, fp16_weights=not fp32)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@reader_app.command("eval")
def reader_eval(
    dataset: Annotated[Path, typer.Option("--dataset", help="SQuAD v1.1 JSON file.")],
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Reader folder (default: the one shipped with citeqa)."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="First N questions.")] = None,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per window.")] = 384,
    stride: Annotated[int, typer.Option("--stride", help="Tokens shared by windows.")] = 128,
    as_json: Annotated[
        bool, typer.Option("--json", help="End with one JSON line {questions, em, f1}.")
    ] = False,
) -> None:
    """Score the reader alone, each question read against its own gold paragraph."""
    import json
    import sys

    from citeqa.config import get_settings
    from eval.reader_eval import evaluate_reader
    from service.reading.reader import SpanReader

    settings = get_settings()
    reader = SpanReader(
        model or settings.resolved_reader_model(),
        threads=settings.reader_threads,
        max_length=max_length,
        backend=settings.reader_backend,
        cache_dir=settings.resolved_model_cache_dir(),
    )
    scores = evaluate_reader(reader, dataset, limit, stride, show_progress=not as_json)
    backend = reader.backend.backend if reader.backend else "torch"
    console.print(
        f"{scores.questions} questions  EM {scores.em:.3f}  F1 {scores.f1:.3f}  "
        f"({reader.model_dir}, {backend})"
    )
    if as_json:
        sys.stdout.write(json.dumps(scores.as_dict()) + "\n")
