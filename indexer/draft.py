"""The generation a write is building: its segments, documents and corpus statistics.

A write starts from the live generation (or from nothing, for a build) and changes only
this draft until it is published (:mod:`indexer.publishing`): new segments are written and
counted in here (:meth:`Draft.new_builder`, :meth:`Draft.add_segment`), deleted and
replaced documents become tombstones (:mod:`indexer.tombstones`), and merges swap segments
(:mod:`indexer.merging`). Tantivy's ``segment_manager`` keeps the same record.

The segments a write reads (for tombstones, merges, statistics) are opened once per write
and closed with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.generations import (
    SEGMENTS,
    current_generation,
    fsync_tree,
    next_segment_number,
    rename_into_place,
)
from indexer.manifest import Manifest, SegmentEntry
from indexer.segment import Segment
from indexer.segment_builder import SegmentBuilder
from indexer.terms import CorpusStats


@dataclass
class Draft:
    """The generation being written: its segments, statistics and documents.

    ``dimension``, ``faiss_index`` and ``checkpoint`` are what its new segments are
    written with.
    """

    index_dir: Path
    dimension: int
    faiss_index: str
    checkpoint: Callable[[str], None]
    segments: dict[str, SegmentEntry]
    stats: CorpusStats
    hashes: dict[str, str]
    locations: dict[str, str]
    opened: dict[str, Segment] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        index_dir: Path,
        previous: Manifest | None,
        dimension: int,
        faiss_index: str,
        checkpoint: Callable[[str], None],
    ) -> Draft:
        """The draft of the next generation: the live one's content, or nothing for a build."""
        if previous is None:
            return cls(
                index_dir, dimension, faiss_index, checkpoint, {}, CorpusStats.empty(), {}, {}
            )
        stats = CorpusStats.load(current_generation(index_dir))
        return cls(
            index_dir,
            dimension,
            faiss_index,
            checkpoint,
            {e.name: e.model_copy(deep=True) for e in previous.segments},
            stats,
            dict(previous.content_hashes),
            dict(previous.locations),
        )

    def folder(self, name: str) -> Path:
        """The folder of the segment called ``name``."""
        return self.index_dir / SEGMENTS / name

    def segment(self, folder: Path) -> Segment:
        """A segment opened for reading (once per write)."""
        found = self.opened.get(folder.name)
        if found is None:
            found = self.opened[folder.name] = Segment(folder, vectors=False)
        return found

    def release(self, name: str) -> None:
        """Close one segment opened for this write."""
        segment = self.opened.pop(name, None)
        if segment is not None:
            segment.close()

    def close(self) -> None:
        """Close the segments opened for this write."""
        for segment in self.opened.values():
            segment.close()
        self.opened.clear()

    def new_builder(self) -> SegmentBuilder:
        """A new segment, written in a temporary folder until :meth:`add_segment`."""
        self.checkpoint("before-temp")
        folder = self.index_dir / SEGMENTS / f".tmp-{uuid.uuid4().hex}"
        return SegmentBuilder(folder, self.dimension, self.faiss_index, self.checkpoint)

    def add_segment(self, builder: SegmentBuilder, shard: int) -> None:
        """Complete a segment, move it into place and count it in the draft."""
        name = f"s{next_segment_number(self.index_dir):06d}"
        builder.corpus_chunks = builder.chunks + sum(e.live_chunks for e in self.segments.values())
        builder.finish(name)
        fsync_tree(builder.folder)
        final = self.index_dir / SEGMENTS / name
        rename_into_place(builder.folder, final)
        self.count_in(final, shard, builder.doc_ids)

    def count_in(self, folder: Path, shard: int, doc_ids: list[str]) -> None:
        """Add a complete segment to the draft: its entry, its documents, its statistics."""
        segment = self.segment(folder)
        info = segment.info
        entry = SegmentEntry(
            name=folder.name,
            documents=info["documents"],
            chunks=info["chunks"],
            sentences=info["sentences"],
            factory=info["factory"],
            shard=shard,
        )
        self.segments[entry.name] = entry
        for doc_id in doc_ids:
            self.locations[doc_id] = entry.name
        keys, df = segment.terms.all_counts()
        length = int(np.asarray(segment.terms.chunk_length, dtype=np.int64).sum())
        self.stats = self.stats.changed(entry.chunks, length, keys, df)
