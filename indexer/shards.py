"""Shards: which documents a shard holds, and the step of a build a worker can do alone.

A shard is the set of segments holding the documents whose :func:`shard_of` is its number.
One index has one shard count (``Manifest.shards``); an index written before shards existed
is one shard. Every shard scores with the generation's corpus-wide statistics
(:class:`indexer.terms.CorpusStats`, Elastic's DFS), so a chunk scores the same whichever
shard holds it, and S shards give exactly the results of one.

A distributed build (a Ray Data task per segment, say) runs in two steps:

1. each worker turns already processed documents of one shard into a *staged* segment
   with :func:`write_segment`: no lock, no shared state, a folder of its own;
2. one driver publishes them all as one generation with
   :meth:`indexer.writer.IndexWriter.publish_segments`, under the writer lock: it names
   them, tombstones the documents they replace, merges per shard and switches ``CURRENT``.

Example:
    >>> shard_of("002_b8ec4b7f77a3a021", 1), shard_of("002_b8ec4b7f77a3a021", 3)
    (0, 2)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import IndexMismatchError
from indexer.generations import SEGMENTS, fsync_tree, rename_into_place
from indexer.processing import ProcessedDocument
from indexer.segment_builder import SegmentBuilder
from indexer.vectors import AUTO

# A staged segment's folder starts so: garbage collection leaves it alone (it removes
# ``.tmp-*`` folders and unnamed ``sNNNNNN`` ones), and publishing renames it.
STAGED_PREFIX = "staged-"


def shard_of(doc_id: str, shards: int) -> int:
    """The shard of a document: a stable hash of its id modulo ``shards``.

    blake2b, not Python's ``hash()``, whose value changes with every process.
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % shards


def live_shards(folder: Path, live: int, asked: int | None) -> int:
    """The shard count of a write to a live generation (``folder``) of ``live`` shards: the
    generation's own when none is asked.

    Raises:
        IndexMismatchError: the write asks for another count than the generation has.
    """
    if asked is None:
        return live
    if live != asked:
        raise IndexMismatchError(
            f"{folder} has {live} shards, this write asks for "
            f"{asked}; leave CITEQA_SHARDS unset (or set it to "
            f"{live}) to write with the index's count, or rebuild it with "
            f"`citeqa index build --shards {asked}`"
        )
    return asked


@dataclass(frozen=True)
class StagedSegment:
    """A segment written by :func:`write_segment`, not yet in any generation (picklable)."""

    folder: str  # its folder's name under ``INDEX_DIR/segments``
    shard: int
    shards: int
    documents: int
    chunks: int


def write_segment(
    index_dir: Path,
    documents: Iterable[ProcessedDocument],
    *,
    shard: int,
    shards: int,
    dimension: int,
    faiss_index: str = AUTO,
    corpus_chunks: int = 0,
) -> StagedSegment:
    """Write processed documents of one shard into a new staged segment of ``index_dir``.

    Safe to run in many processes at once: each writes its own folder and takes no lock.
    Publish the result with :meth:`IndexWriter.publish_segments`. ``corpus_chunks`` is the
    corpus's expected size, which the ``auto`` FAISS factory takes into account.

    Raises:
        ValueError: a document belongs to another shard.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not one of {shards} shards")
    folder = index_dir / SEGMENTS / f"{STAGED_PREFIX}{uuid.uuid4().hex}"
    temp = folder.with_name(f".tmp-{folder.name}")
    builder = SegmentBuilder(temp, dimension, faiss_index)
    builder.corpus_chunks = corpus_chunks
    try:
        for item in documents:
            doc_id = item.document.doc_id
            if shard_of(doc_id, shards) != shard:
                raise ValueError(
                    f"document {doc_id!r} belongs to shard {shard_of(doc_id, shards)} of "
                    f"{shards}, not {shard}: route documents with indexer.shards.shard_of"
                )
            builder.add(item)
        info = builder.finish(folder.name)
    except BaseException:
        builder.discard()
        raise
    fsync_tree(temp)
    # Complete before it gets its staged name: a killed worker leaves a temp folder only.
    rename_into_place(temp, folder)
    return StagedSegment(folder.name, shard, shards, int(info["documents"]), int(info["chunks"]))


def staged_shards(
    staged: Sequence[StagedSegment], shards: int, asked: int | None, live: bool
) -> int:
    """The shard count of a write publishing ``staged``, checked against each segment:
    ``shards``, or, with none asked and no ``live`` index, the one they were written for.

    Raises:
        IndexMismatchError: a segment was written for another shard count.
    """
    counts = {segment.shards for segment in staged}
    if asked is None and not live and len(counts) == 1:
        shards = counts.pop()
    for segment in staged:
        if segment.shards != shards:
            raise IndexMismatchError(
                f"staged segment {segment.folder} was written for {segment.shards} shards, "
                f"this write has {shards}; write it again with shards={shards}"
            )
    return shards
