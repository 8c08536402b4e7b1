"""New segments for a write: documents streamed into segments, or staged segments adopted.

A write's documents are read a batch at a time; those whose content hash is unchanged are
skipped, the others are cleaned, chunked, annotated and embedded
(:class:`indexer.processing.DocumentProcessor`) and written into new segments as they
stream in, one open segment per shard and a new one every ``segment_chunks`` chunks, so a
build's memory does not grow with the corpus. A document already in the index is
tombstoned in its old segment (:mod:`indexer.tombstones`). Segments written by other
processes (:func:`indexer.shards.write_segment`) join the draft the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from itertools import chain, islice

from citeqa.types import Document
from indexer.draft import Draft
from indexer.errors import IndexCorruptError
from indexer.generations import fsync_tree, next_segment_number, rename_into_place
from indexer.loaders import SkippedFile
from indexer.merging import MergePolicy, merge
from indexer.processing import DocumentProcessor, ProcessedDocument, content_hash
from indexer.report import BuildReport
from indexer.segment import SEGMENT_JSON
from indexer.segment_builder import SegmentBuilder
from indexer.shards import STAGED_PREFIX, StagedSegment, shard_of
from indexer.tombstones import tombstone

# Documents are cleaned, annotated and embedded this many at a time: enough to keep every
# core busy, few enough that a build holds little beyond the segment being written.
PROCESS_BATCH = 256


def process(
    processor: DocumentProcessor,
    report: BuildReport,
    draft: Draft,
    documents: Iterator[Document],
    show_progress: bool = False,
) -> Iterator[ProcessedDocument]:
    """Clean, chunk, annotate and embed the changed documents, a batch at a time.

    The processor embeds the next batch while this one is written, and prepares it while
    this one's last texts are embedded (:meth:`DocumentProcessor.process_batches`).
    """
    batches = changed_batches(report, draft, documents)
    first = next(batches, None)
    if first is None:  # nothing changed: no pool, no progress bar
        return
    stream = processor.process_batches(chain([first], batches), show_progress)
    for processed in stream:
        for item in processed:
            if not item.chunks:
                report.skipped.append(
                    SkippedFile(
                        item.document.path or item.document.doc_id,
                        "no article text left after removing boilerplate",
                    )
                )
                continue
            yield item


def changed_batches(
    report: BuildReport, draft: Draft, documents: Iterator[Document]
) -> Iterator[list[Document]]:
    """The documents to process, read a batch at a time: each id once, changed ones only."""
    seen: set[str] = set()
    while batch := list(islice(documents, PROCESS_BATCH)):
        todo = []
        for document in batch:
            if document.doc_id in seen:
                report.skipped.append(
                    SkippedFile(
                        document.path or document.doc_id,
                        f"duplicate document id {document.doc_id!r} in one write; the "
                        "first is kept",
                    )
                )
                continue
            seen.add(document.doc_id)
            # Hashes of documents written earlier in this write are never consulted
            # here: a document id comes once per write (above).
            if draft.hashes.get(document.doc_id) == content_hash(document):
                report.unchanged.append(document.doc_id)
                continue
            todo.append(document)
        if todo:
            yield todo


def write_segments(
    report: BuildReport,
    draft: Draft,
    stream: Iterator[ProcessedDocument],
    shards: int,
    segment_chunks: int,
    policy: MergePolicy,
) -> int:
    """Write the stream into new segments, one open per shard; returns how many documents
    were written. A segment is completed every ``segment_chunks`` chunks, and the merge
    policy runs after each."""
    builders: dict[int, SegmentBuilder] = {}
    written = 0
    while True:
        started = time.perf_counter()
        item = next(stream, None)
        report.timed("read and process", started)
        if item is None:
            break
        started = time.perf_counter()
        doc_id = item.document.doc_id
        if doc_id in draft.hashes:
            tombstone(draft, doc_id)
            report.replaced.append(doc_id)
        else:
            report.added.append(doc_id)
        shard = shard_of(doc_id, shards)
        builder = builders.get(shard)
        if builder is None:
            builder = builders[shard] = draft.new_builder()
        builder.add(item)
        draft.hashes[doc_id] = item.document.content_hash or content_hash(item.document)
        written += 1
        if builder.chunks >= segment_chunks:
            draft.add_segment(builders.pop(shard), shard)
            report.timed("write segments", started)
            merge(draft, report, policy, shards)
        else:
            report.timed("write segments", started)
    for shard in sorted(builders):
        started = time.perf_counter()
        draft.add_segment(builders[shard], shard)
        report.timed("write segments", started)
    return written


def adopt_staged(report: BuildReport, draft: Draft, staged: list[StagedSegment]) -> None:
    """Name each staged segment and count it in, replacing documents of the same id."""
    for item in staged:
        folder = draft.folder(item.folder)
        if not item.folder.startswith(STAGED_PREFIX) or not folder.is_dir():
            raise IndexCorruptError(
                f"{folder} is not a staged segment; write it with indexer.shards.write_segment"
            )
        name = f"s{next_segment_number(draft.index_dir):06d}"
        info = json.loads((folder / SEGMENT_JSON).read_text())
        info["name"] = name
        (folder / SEGMENT_JSON).write_text(json.dumps(info, indent=2))
        fsync_tree(folder)
        final = draft.folder(name)
        rename_into_place(folder, final)
        hashes = draft.segment(final).content_hashes()
        for doc_id, _ in hashes:
            if doc_id in draft.hashes:
                tombstone(draft, doc_id)
                report.replaced.append(doc_id)
            else:
                report.added.append(doc_id)
        draft.count_in(final, item.shard, [doc_id for doc_id, _ in hashes])
        draft.hashes.update(hashes)
