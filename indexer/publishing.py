"""Publishing a draft: its manifest and statistics written, read back, then switched to.

The new generation's files go into a temporary folder, the manifest last (a folder without
one is never mistaken for a finished write). Everything is then re-read as a reader would
read it, and only then does ``CURRENT`` switch (:func:`indexer.generations.publish`, which
fsyncs before it renames). Generations and segments no longer needed are then removed.
Tantivy's ``segment_updater`` plays this part.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from indexer.draft import Draft
from indexer.embedding import Embedder, numeric_family
from indexer.errors import IndexCorruptError
from indexer.generations import (
    SEGMENT_LIST,
    SEGMENTS,
    collect_garbage,
    new_temp_folder,
    next_generation_number,
    publish,
)
from indexer.locks import ReaderLease
from indexer.manifest import ChunkerSettings, Manifest, check_compatible
from indexer.processing import DocumentProcessor
from indexer.segment import SEGMENT_JSON
from indexer.terms import CorpusStats


def publish_draft(
    draft: Draft,
    previous: Manifest | None,
    processor: DocumentProcessor,
    shards: int,
    generations_to_keep: int,
) -> Manifest:
    """Write the draft as the next generation, check it, make it current; returns its
    manifest."""
    number = next_generation_number(draft.index_dir)
    manifest = new_manifest(draft, previous, processor, shards, number)
    temp = new_temp_folder(draft.index_dir)
    try:
        draft.stats.save(temp)
        (temp / SEGMENT_LIST).write_text("".join(f"{s.name}\n" for s in manifest.segments))
        # The manifest goes last: a folder without one is never mistaken for a finished
        # write.
        manifest.write(temp)
        check_written(draft.index_dir, temp, processor.embedder)
        publish(draft.index_dir, temp, number, draft.checkpoint)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    collect_garbage(draft.index_dir, generations_to_keep)
    return manifest


def new_manifest(
    draft: Draft,
    previous: Manifest | None,
    processor: DocumentProcessor,
    shards: int,
    number: int,
) -> Manifest:
    """The manifest of generation ``number``: the draft's segments, documents and counts."""
    embedder = processor.embedder
    # Sentences alone (no entities) in any part make the whole generation so.
    entities = processor.annotator.entities and (previous is None or previous.entities)
    chunker = processor.chunker
    return Manifest(
        generation=number,
        model_name=embedder.name,
        dimension=embedder.dimension,
        embed_backend=embedder.backend,
        embed_family=numeric_family(embedder.backend),
        embed_weights=embedder.weights_hash,
        embed_export=embedder.export_hash,
        entities=entities,
        faiss_index=draft.faiss_index,
        chunker=ChunkerSettings(
            chunk_size_tokens=chunker.chunk_size, chunk_overlap_tokens=chunker.chunk_overlap
        ),
        documents=len(draft.hashes),
        chunks=sum(e.live_chunks for e in draft.segments.values()),
        sentences=sum(e.sentences - e.deleted_sentences for e in draft.segments.values()),
        content_hashes=dict(sorted(draft.hashes.items())),
        locations=dict(sorted(draft.locations.items())),
        segments=list(draft.segments.values()),
        shards=shards,
        stats_hash=draft.stats.digest(),
    )


def check_written(index_dir: Path, folder: Path, embedder: Embedder) -> None:
    """Re-read what was just written; a short write fails here, not in production."""
    # Read under a lease, as any reader would: this also leaves the lease file in
    # place, so every published generation has one.
    lease = ReaderLease(folder)
    try:
        manifest = Manifest.read(folder)
        check_compatible(manifest, embedder, folder)
        stats = CorpusStats.load(folder)
        manifest.check_counts(folder, statistics_chunks=stats.chunks)
        manifest.check_statistics(folder, stats.digest())
        for entry in manifest.segments:
            path = index_dir / SEGMENTS / entry.name / SEGMENT_JSON
            info = json.loads(path.read_text())
            if (info["chunks"], info["documents"]) != (entry.chunks, entry.documents):
                raise IndexCorruptError(
                    f"{path} holds {info['chunks']} chunks of {info['documents']} "
                    f"documents, the manifest says {entry.chunks} of {entry.documents}"
                )
    finally:
        lease.release()
