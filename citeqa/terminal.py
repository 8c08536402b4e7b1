"""Output that reads the same on a terminal, in a pipe and in a log file.

rich sizes its output to the terminal, and to 80 columns when there is none, so a table
piped to ``cat`` or a log lost its right-hand columns (``hybr…``, ``33.…``). Off a terminal
a table is printed at its own full width instead.
"""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.table import Table

# Wide enough for any table citeqa prints; only used to measure one.
_MEASURING_WIDTH = 10_000


def print_table(table: Table, *, stderr: bool = False) -> None:
    """Print ``table`` whole: at the terminal's width, or at its own width off a terminal."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        width = Console(width=_MEASURING_WIDTH).measure(table).maximum
        console = Console(stderr=stderr, width=max(width, console.width))
    console.print(table)


def announce(log: logging.Logger, message: str, *args: object) -> None:
    """Say, before it starts, that a one-time step will take seconds (a silent pause reads as
    a hang): a log line where logging is set up (the server), else a plain line on stderr
    (the CLI). Never a warning: nothing is wrong, and a new user reads a warning as an error.
    """
    # A handler alone is not enough: a library's basicConfig() leaves one at WARNING.
    if log.hasHandlers() and log.isEnabledFor(logging.INFO):
        log.info(message, *args)
    else:
        print(message % args, file=sys.stderr, flush=True)
