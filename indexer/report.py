"""What one build or update did: :class:`BuildReport`, filled in by each part of a write."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from indexer.loaders import SkippedFile


@dataclass
class BuildReport:
    """What one build or update did."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    segments: int = 0
    merged: int = 0
    generation: int | None = None
    seconds: float = 0.0
    # Where the time went: reading and processing (spaCy, embedding), writing segments,
    # merging, publishing.
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, started: float) -> None:
        """Add the time since ``started`` to ``stage``."""
        elapsed = time.perf_counter() - started
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + elapsed

    @property
    def changed(self) -> bool:
        """True when the write added, replaced or deleted anything."""
        return bool(self.added or self.replaced or self.deleted)
