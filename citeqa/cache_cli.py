"""`citeqa cache ...`: what the model cache holds, and pruning it by hand."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from citeqa.cli_errors import ErrorReportingGroup, console
from citeqa.config import Settings, get_settings
from citeqa.model_cache import DAY_S, Entry, entries, prune
from citeqa.terminal import print_table

cache_app = typer.Typer(
    help="List and prune the model cache (CITEQA_MODEL_CACHE_DIR): exports, the int8 reader, "
    "simplified graphs and OpenVINO's compiled blobs, all made again when missing.",
    cls=ErrorReportingGroup,
)
# `citeqa cache prune` without --unused-days where automatic pruning is off (0): the default.
DEFAULT_UNUSED_DAYS: float = Settings.model_fields["model_cache_unused_days"].default


def _megabytes(found: list[Entry]) -> float:
    return sum(entry.size for entry in found) / 1e6


def _files(found: list[Entry]) -> str:
    return f"{len(found)} file{'' if len(found) == 1 else 's'} ({_megabytes(found):.0f} MB)"


@cache_app.command("list")
def cache_list(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object on stdout (for scripts).")
    ] = False,
) -> None:
    """List the cache's files, least recently used first, with their size and last use."""
    folder = get_settings().resolved_model_cache_dir()
    found = entries(folder)
    now = time.time()
    if as_json:
        rows = [
            {"path": str(e.path), "bytes": e.size, "unused_days": (now - e.last_used) / DAY_S}
            for e in found
        ]
        sys.stdout.write(json.dumps({"folder": str(folder), "files": rows}, indent=2) + "\n")
        return
    if not found:
        console.print(f"model cache {folder}: empty (filled at the next start)")
        return
    table = Table(title=f"model cache {folder}: {_files(found)}")
    table.add_column("file")
    table.add_column("MB", justify="right")
    table.add_column("unused for", justify="right")
    for entry in found:
        days = (now - entry.last_used) / DAY_S
        table.add_row(
            str(entry.path.relative_to(folder)), f"{entry.size / 1e6:.0f}", f"{days:.1f} days"
        )
    print_table(table)


@cache_app.command("prune")
def cache_prune(
    unused_days: Annotated[
        float | None,
        typer.Option(
            "--unused-days",
            min=0,
            help="Remove what has gone unused this many days; 0 empties the cache. Default: "
            "CITEQA_MODEL_CACHE_UNUSED_DAYS, or 30 where that is 0.",
        ),
    ] = None,
) -> None:
    """Remove the cache's files that no start has used lately (each is made again if needed)."""
    settings = get_settings()
    if unused_days is None:
        unused_days = settings.model_cache_unused_days or DEFAULT_UNUSED_DAYS
    folder = settings.resolved_model_cache_dir()
    removed = prune(folder, unused_days)
    left = entries(folder)
    console.print(
        f"removed {_files(removed)} unused for {unused_days:g} days; {_files(left)} left in "
        f"{folder}"
    )
