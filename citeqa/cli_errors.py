"""How the `citeqa` commands report a failure: one red line on stderr and exit code 1.

Every command runs inside :class:`ErrorReportingGroup`, so none catches errors itself: a
:class:`~citeqa.errors.CiteqaError` (or an ``OSError``: a folder that cannot be written, say)
ends the command with its message and no traceback. Anything else is a bug, and keeps its
traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from citeqa.errors import CiteqaError

console = Console(stderr=True)


class ErrorReportingGroup(TyperGroup):
    """A command group whose commands end on a domain error with its message and exit 1."""

    def invoke(self, ctx: Any) -> Any:  # a typer Context: typer carries its own click
        """Run the command; a domain or file error becomes one line on stderr and exit code 1."""
        try:
            return super().invoke(ctx)
        except (CiteqaError, OSError) as error:
            # Messages quote lists and ids in [brackets]: print them, never read them as markup.
            console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
            raise typer.Exit(code=1) from error
