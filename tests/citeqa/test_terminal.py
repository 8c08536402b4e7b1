"""Tables survive a pipe: every column in full when stdout is not a terminal."""

from __future__ import annotations

import logging

import pytest
from rich.console import Console
from rich.table import Table

from citeqa.terminal import announce, print_table

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


def test_a_one_time_step_is_announced_where_logging_would_drop_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stderr handler at WARNING (a library's basicConfig) must not swallow the line."""
    log = logging.getLogger("citeqa-test-announce")
    monkeypatch.setattr(log, "level", logging.WARNING)
    handler = logging.StreamHandler()
    log.addHandler(handler)
    try:
        announce(log, "preparing %s once", "the reader")
    finally:
        log.removeHandler(handler)

    assert "preparing the reader once" in capsys.readouterr().err


def test_configured_logging_gets_the_line(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("citeqa-test-announce")
    with caplog.at_level(logging.INFO, logger=log.name):
        announce(log, "preparing %s once", "the reader")

    assert [r.getMessage() for r in caplog.records] == ["preparing the reader once"]
