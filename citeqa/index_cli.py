"""`citeqa index ...`: build, add, sync, delete and describe the hybrid index."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from citeqa.cli_errors import ErrorReportingGroup, console
from citeqa.config import Settings, get_settings
from citeqa.terminal import print_table

index_app = typer.Typer(
    help="Build and update the hybrid (FAISS + BM25 + SQLite) index.", cls=ErrorReportingGroup
)

# Deleted ids a write names after its report (a sync may delete many).
SHOWN_IDS = 20
ReportJsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print the report as one JSON object on stdout (for scripts)."),
]
IndexDirOption = Annotated[
    Path | None, typer.Option("--index-dir", help="Index folder (default: CITEQA_INDEX_DIR).")
]


def settings_for(index_dir: Path | None) -> Settings:
    """The settings, with ``--index-dir`` in place of CITEQA_INDEX_DIR where given."""
    settings = get_settings()
    return settings.model_copy(update={"index_dir": index_dir}) if index_dir else settings


def _print_report(report: object, as_json: bool = False, sources: list[Path] | None = None) -> None:
    from indexer.loaders import SUPPORTED_SUFFIXES
    from indexer.report import BuildReport

    assert isinstance(report, BuildReport)
    if as_json:  # every id and skipped file, for a cron job to act on
        sys.stdout.write(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
        return
    table = Table(title="index update", show_header=False)
    for label, values in (
        ("added", report.added),
        ("replaced", report.replaced),
        ("unchanged", report.unchanged),
        ("deleted", report.deleted),
    ):
        table.add_row(label, str(len(values)))
    table.add_row("skipped", str(len(report.skipped)))
    table.add_row("documents in index", str(report.documents))
    table.add_row("chunks in index", str(report.chunks))
    table.add_row("generation", str(report.generation))
    table.add_row("seconds", f"{report.seconds:.1f}")
    print_table(table, stderr=True)
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(f'{skipped.path}: {skipped.reason}')}")
    if sources and not (report.added or report.replaced or report.unchanged or report.skipped):
        # An empty folder (or only hidden files): say so, or a typo'd folder reads as success.
        shown, read = escape(", ".join(map(str, sources))), ", ".join(SUPPORTED_SUFFIXES)
        console.print(f"[yellow]nothing indexed:[/yellow] no files under {shown} (reads {read})")
    if report.deleted:  # a sync decides for itself what goes: say what went
        shown = ", ".join(report.deleted[:SHOWN_IDS])
        more = len(report.deleted) - SHOWN_IDS
        console.print(f"deleted {shown}" + (f" and {more} more" if more > 0 else ""))


@index_app.command("build")
def index_build(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Folders or files to index (or --source).")
    ] = None,
    source: Annotated[
        list[Path] | None, typer.Option("--source", help="Folder or file(s) to index.")
    ] = None,
    index_dir: IndexDirOption = None,
    shards: Annotated[
        int | None,
        typer.Option("--shards", min=1, help="Shards to spread documents over (CITEQA_SHARDS)."),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="local (one process) or ray (a Ray Data pipeline).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="--engine ray: the cluster (CITEQA_RAY_ADDRESS)."),
    ] = None,
    gpus: Annotated[
        float | None,
        typer.Option("--gpus", min=0.0, help="--engine ray: GPUs per embedding actor."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="--engine ray: documents per actor batch."),
    ] = None,
    as_json: ReportJsonOption = False,
) -> None:
    """Index PATHS from scratch into a new generation (the old one serves until it is done)."""
    from indexer.loaders import check_sources_exist

    # `index add` takes its paths as arguments; `build` takes them so too, or as --source.
    source = [*(paths or []), *(source or [])]
    if not source:
        raise typer.BadParameter("name the folders or files to index: citeqa index build seeds/")
    check_sources_exist(source)
    settings = settings_for(index_dir)
    if shards is not None:
        settings = settings.model_copy(update={"shards": shards})
    if engine == "ray":
        report = _build_on_ray(settings, source, address, gpus, batch_size)
    elif engine == "local":
        ray_only = {"--address": address, "--gpus": gpus, "--batch-size": batch_size}
        if given := [name for name, value in ray_only.items() if value is not None]:
            raise typer.BadParameter(f"{', '.join(given)} only apply with --engine ray")
        from indexer.factory import make_writer

        report = make_writer(settings, show_progress=True).build(source)
    else:
        raise typer.BadParameter(f"--engine must be local or ray, not {engine!r}")
    _print_report(report, as_json, source)


def _build_on_ray(
    settings: Settings,
    source: list[Path],
    address: str | None,
    gpus: float | None,
    batch_size: int | None,
) -> object:
    # Imported here: without the ray extra every other command runs as before.
    from indexer.ray_build import RayBuildOptions, build_on_ray

    if address is not None:
        settings = settings.model_copy(update={"ray_address": address})
    options = RayBuildOptions(
        shards=settings.shards or 1,  # a build from scratch: unset is one shard
        gpus_per_actor=settings.ray_build_gpus if gpus is None else gpus,
        batch_size=batch_size or settings.ray_build_batch_size,
    )
    return build_on_ray(settings, source, options, say=console.print, show_progress=True)


@index_app.command("add")
def index_add(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to add or replace.")],
    index_dir: IndexDirOption = None,
    as_json: ReportJsonOption = False,
) -> None:
    """Add or replace documents; unchanged documents (same content hash) are skipped."""
    _write_paths(paths, index_dir, mirror=False, as_json=as_json)


@index_app.command("sync")
def index_sync(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to mirror.")],
    index_dir: IndexDirOption = None,
    as_json: ReportJsonOption = False,
) -> None:
    """Mirror PATHS: add and replace, and remove documents whose file under PATHS is gone.

    Documents read from elsewhere, or written through the API, are kept.
    """
    _write_paths(paths, index_dir, mirror=True, as_json=as_json)


def _write_paths(paths: list[Path], index_dir: Path | None, mirror: bool, as_json: bool) -> None:
    from indexer.factory import make_writer
    from indexer.loaders import check_sources_exist

    check_sources_exist(paths)
    writer = make_writer(settings_for(index_dir), show_progress=True)
    _print_report(writer.sync(paths) if mirror else writer.add(paths), as_json, paths)


@index_app.command("delete")
def index_delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids to remove.")],
    index_dir: IndexDirOption = None,
    as_json: ReportJsonOption = False,
) -> None:
    """Remove documents by id."""
    from indexer.factory import make_writer

    report = make_writer(settings_for(index_dir)).delete(doc_ids)
    _print_report(report, as_json)


@index_app.command("stats")
def index_stats(
    index_dir: IndexDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show what the current generation holds."""
    from indexer.generations import current_generation
    from indexer.manifest import Manifest

    settings = settings_for(index_dir)
    manifest = Manifest.read(current_generation(settings.index_dir))
    stats = {
        "index_dir": str(settings.index_dir),
        "generation": manifest.generation,
        "shards": manifest.shards,
        "documents": manifest.documents,
        "chunks": manifest.chunks,
        "sentences": manifest.sentences,
        "model": manifest.model_name,
        "dimension": manifest.dimension,
        "faiss_index": manifest.faiss_index,
        "segments": [f"{s.name} ({s.live_chunks} chunks, {s.factory})" for s in manifest.segments],
        "chunk_size_tokens": manifest.chunker.chunk_size_tokens,
        "chunk_overlap_tokens": manifest.chunker.chunk_overlap_tokens,
        "created_at": manifest.created_at,
        "doc_ids": sorted(manifest.content_hashes),
    }
    if as_json:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
        return
    table = Table(title=f"index {settings.index_dir}", show_header=False)
    for key, value in stats.items():
        if key != "doc_ids":
            table.add_row(key, str(value))
    print_table(table)
