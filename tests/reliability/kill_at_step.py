"""The citeqa command line, with a writer that kills itself at one step of every write.

``python -m tests.reliability.kill_at_step STEP index add PATH --index-dir DIR`` runs
``citeqa index add ...`` whose writer sends itself SIGKILL (as ``kill -9`` would: no cleanup
runs) on reaching ``STEP``. The fault hook lives here, with the tests, and not in the
production settings: production writers only carry the no-op ``checkpoint`` seam that this
replaces, as Tantivy keeps its failpoints behind a build feature.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import get_args

import indexer.factory
from citeqa.cli import main as citeqa_main
from citeqa.config import Settings
from citeqa.types import WriteStep
from indexer.generations import Checkpoint
from indexer.processing import DocumentProcessor
from indexer.writer import IndexWriter


def fault_at(step: WriteStep) -> Checkpoint:
    """A checkpoint that kills this process (SIGKILL: no cleanup runs) on reaching ``step``."""

    def checkpoint(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def install(step: str) -> None:
    """Make every writer that ``indexer.factory.make_writer`` returns die at ``step``."""
    steps: tuple[WriteStep, ...] = get_args(WriteStep)
    if step not in steps:
        raise SystemExit(f"unknown write step {step!r}; one of {', '.join(steps)}")
    checkpoint = fault_at(steps[steps.index(step)])
    make_writer = indexer.factory.make_writer

    def make_killed_writer(
        settings: Settings,
        index_dir: Path | None = None,
        processor: DocumentProcessor | None = None,
        show_progress: bool = False,
    ) -> IndexWriter:
        writer = make_writer(settings, index_dir, processor, show_progress)
        writer.checkpoint = checkpoint
        return writer

    # The CLI imports make_writer from the module when a command runs, so it gets this one.
    indexer.factory.make_writer = make_killed_writer


def main(arguments: list[str]) -> None:
    """``STEP`` then the arguments of ``citeqa``."""
    if not arguments:
        raise SystemExit("usage: python -m tests.reliability.kill_at_step STEP CITEQA-ARGS...")
    install(arguments[0])
    sys.argv = ["citeqa", *arguments[1:]]
    citeqa_main()


if __name__ == "__main__":
    main(sys.argv[1:])
