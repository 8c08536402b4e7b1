"""`citeqa reader ...`: train, evaluate and export the extractive span reader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

reader_app = typer.Typer(help="Train, evaluate and export the extractive span reader.")
console = Console(stderr=True)


@reader_app.command("export")
def reader_export(
    model: Annotated[Path, typer.Option("--model", help="Checkpoint saved by `reader train`.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for model.onnx and tokenizer.")],
    fp32: Annotated[bool, typer.Option("--fp32", help="Keep fp32 weights (4x larger).")] = False,
) -> None:
    """Export a trained reader to ONNX (int8 per-channel by default) for CPU serving."""
    from service.reading.errors import ReaderError
    from service.reading.export import export_onnx

    try:
        path = export_onnx(model, out, quantize=not fp32)
    except ReaderError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=2) from error
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
