"""Tables survive a pipe: every column in full when stdout is not a terminal."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.table import Table

from citeqa.terminal import print_table

HEADERS = [f"column {n} header" for n in range(12)]
VALUES = [f"{0.1 * n:.3f}" for n in range(12)]


def _wide_table() -> Table:
    table = Table(title="a wide table")
    table.add_column("configuration")
    for header in HEADERS:
        table.add_column(header, justify="right")
    table.add_row("hybrid+rescore+dedup", *VALUES)
    return table


def test_a_piped_table_keeps_every_column(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(_wide_table())  # capsys's stdout is not a terminal
    output = capsys.readouterr().out
    assert "…" not in output
    for text in [*HEADERS, *VALUES, "hybrid+rescore+dedup"]:
        assert text in output, text


def test_the_same_table_at_80_columns_is_cut() -> None:
    # What rich does by default off a terminal: the test above would pass without the fix
    # only if this table fitted, and it does not.
    console = Console(width=80, record=True)
    console.print(_wide_table())
    assert "…" in console.export_text()
