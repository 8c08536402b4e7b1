"""Build and update an index directory: new segments, tombstones, merges, one atomic switch.

A write never changes a file that a published generation reads. New and replaced documents
go into new segments (:mod:`indexer.segment`), written as they stream in, a segment every
``segment_chunks`` chunks, so a build's memory does not grow with the corpus. A deleted or
replaced document is a tombstone in the new manifest, and its chunks leave the corpus
statistics (:mod:`indexer.terms`). A tiered policy (:mod:`indexer.merging`) compacts small
segments. Then the new manifest and statistics are written, checked, and published
(:mod:`indexer.generations`). Unchanged documents (same content hash) are never re-embedded.

With ``shards=S`` (:mod:`indexer.shards`), each document goes to its shard's segment, a
segment holds one shard's documents, and merges only combine segments of one shard; one
shard (the default) writes exactly what an unsharded writer wrote. Segments written by
other processes are published with :meth:`IndexWriter.publish_segments`.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np

from citeqa.errors import CiteqaError
from citeqa.types import Document, WriteStep
from indexer.embedding import Embedder, numeric_family
from indexer.errors import (
    DocumentNotFoundError,
    IndexCorruptError,
    IndexDiskFullError,
    IndexMismatchError,
    IndexNotFoundError,
)
from indexer.generations import (
    SEGMENT_LIST,
    SEGMENTS,
    collect_garbage,
    current_generation,
    current_name,
    fault_at,
    fsync_tree,
    is_disk_full,
    new_temp_folder,
    next_generation_number,
    next_segment_number,
    publish,
    rename_into_place,
)
from indexer.loaders import SkippedFile, iter_paths
from indexer.locks import ReaderLease, writer_lock
from indexer.manifest import ChunkerSettings, Manifest, SegmentEntry, check_compatible
from indexer.merging import MergePolicy
from indexer.processing import DocumentProcessor, ProcessedDocument, content_hash
from indexer.segment import SEGMENT_JSON, Segment, SegmentBuilder
from indexer.shards import STAGED_PREFIX, StagedSegment, shard_of
from indexer.terms import CorpusStats
from indexer.vectors import AUTO

# Documents are cleaned, annotated and embedded this many at a time: enough to keep every
# core busy, few enough that a build holds little beyond the segment being written.
PROCESS_BATCH = 256


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


@dataclass
class _Draft:
    """The generation being written: its segments, statistics and documents."""

    segments: dict[str, SegmentEntry]
    stats: CorpusStats
    hashes: dict[str, str]
    locations: dict[str, str]
    opened: dict[str, Segment] = field(default_factory=dict)

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


class IndexWriter:
    """Writes generations into ``index_dir``; one writer at a time (an OS file lock).

    A second writer, in this process or another, waits up to ``lock_timeout_s`` seconds,
    then fails with :class:`IndexLockedError`. ``shards`` is the shard count of a new
    index (None: 1). A write to an existing index uses the index's own count when
    ``shards`` is None, and fails with :class:`IndexMismatchError` when it asks for
    another (a build from scratch may change it).
    """

    def __init__(
        self,
        index_dir: Path,
        processor: DocumentProcessor,
        faiss_index: str = AUTO,
        generations_to_keep: int = 2,
        show_progress: bool = False,
        fault_step: WriteStep | None = None,
        lock_timeout_s: float = 600.0,
        segment_chunks: int = 25_000,
        merge_policy: MergePolicy | None = None,
        shards: int | None = None,
    ) -> None:
        if shards is not None and shards < 1:
            raise ValueError("shards must be at least 1")
        self.index_dir = index_dir
        # What the caller asked for; None follows the index (a server writing through the
        # API need not know how its index was built).
        self.asked_shards = shards
        self.shards = shards or 1
        self.processor = processor
        self.embedder: Embedder = processor.embedder
        self.faiss_index = faiss_index
        self.generations_to_keep = generations_to_keep
        self.show_progress = show_progress
        self.lock_timeout_s = lock_timeout_s
        self.segment_chunks = segment_chunks
        self.merge_policy = merge_policy or MergePolicy()
        # Kills the process at a named step of every write: for the reliability tests only.
        self.checkpoint = fault_at(fault_step)

    # -- public operations --------------------------------------------------------------

    def build(self, paths: Sequence[Path]) -> BuildReport:
        """Index ``paths`` from scratch into a new generation (the old one stays until done)."""
        report = BuildReport()
        return self._write(report, iter_paths(paths, report.skipped), [], fresh=True)

    def add(self, paths: Sequence[Path]) -> BuildReport:
        """Add or replace the documents read from files or folders."""
        report = BuildReport()
        return self._write(report, iter_paths(paths, report.skipped), [], fresh=False)

    def add_documents(
        self, documents: Sequence[Document], lock_timeout_s: float | None = None
    ) -> BuildReport:
        """Add or replace documents given in memory.

        ``lock_timeout_s`` (default: the writer's own) bounds the wait for another writer:
        a server answering HTTP waits seconds, not the minutes a command line may.
        """
        return self._write(
            BuildReport(), iter(documents), [], fresh=False, lock_timeout_s=lock_timeout_s
        )

    def add_processed(
        self, documents: Iterable[ProcessedDocument], fresh: bool = False
    ) -> BuildReport:
        """Add documents already cleaned, chunked, annotated and embedded (no model runs).

        For tools that bring their own vectors, and the scale benchmark. Each document's
        ``content_hash`` must be set.
        """
        return self._write(BuildReport(), iter(()), [], fresh=fresh, processed=iter(documents))

    def publish_segments(
        self, staged: Sequence[StagedSegment], fresh: bool = False, *, lock_held: bool = False
    ) -> BuildReport:
        """Publish segments written by :func:`indexer.shards.write_segment` as one generation.

        The last step of a distributed build: under the writer lock, each staged segment is
        named, the documents it holds replace those of the same id, the merge policy runs
        per shard, and ``CURRENT`` switches once. ``fresh`` starts from an empty index (a
        build) instead of the live generation. A document in two staged segments is taken
        from the later one.

        A distributed build is one writer: its driver should hold the writer lock from
        before the first ``write_segment`` (another write's garbage collection removes the
        temp folders of segments still being written), then pass ``lock_held=True``::

            with writer_lock(index_dir, timeout_s):
                staged = [...]  # write_segment in each task
                writer.publish_segments(staged, fresh=True, lock_held=True)

        With no shard count asked, the segments go into the live index's count, or into
        the count they were written for when there is no live index (or ``fresh``).

        Raises:
            IndexMismatchError: a segment was written for another shard count.
        """
        return self._write(
            BuildReport(), iter(()), [], fresh=fresh, staged=list(staged), lock_held=lock_held
        )

    def delete(self, doc_ids: Sequence[str], lock_timeout_s: float | None = None) -> BuildReport:
        """Delete documents by id (``lock_timeout_s`` as in :meth:`add_documents`)."""
        return self._write(
            BuildReport(), iter(()), list(doc_ids), fresh=False, lock_timeout_s=lock_timeout_s
        )

    def collect_garbage(self, timeout_s: float | None = None) -> list[Path]:
        """Remove what killed writes left behind (run at start; every write runs it too).

        Raises:
            IndexLockedError: another writer held the index for ``timeout_s`` seconds.
        """
        timeout = self.lock_timeout_s if timeout_s is None else timeout_s
        with writer_lock(self.index_dir, timeout):
            return collect_garbage(self.index_dir, self.generations_to_keep)

    # -- the write path -----------------------------------------------------------------

    def _write(
        self,
        report: BuildReport,
        documents: Iterator[Document],
        deletions: list[str],
        fresh: bool,
        processed: Iterator[ProcessedDocument] | None = None,
        staged: list[StagedSegment] | None = None,
        lock_held: bool = False,
        lock_timeout_s: float | None = None,
    ) -> BuildReport:
        """Apply one change as one new generation: nothing to write, no new generation.

        ``lock_timeout_s`` overrides, for this write, how long it waits for another writer.
        """
        started = time.perf_counter()
        timeout = self.lock_timeout_s if lock_timeout_s is None else lock_timeout_s
        lock: AbstractContextManager[None] = (
            nullcontext() if lock_held else writer_lock(self.index_dir, timeout)
        )
        try:
            with lock:
                collect_garbage(self.index_dir, self.generations_to_keep)
                previous = self._previous_manifest(fresh)
                if staged:
                    self._check_staged(staged, previous)
                draft = self._start(previous)
                try:
                    _check_deletions(deletions, draft.hashes)
                    if staged:
                        self._adopt_staged(report, draft, staged)
                    manifest = self._apply(report, draft, documents, processed, deletions, previous)
                except Exception:
                    draft.close()
                    # Segments this write made and never published are garbage now.
                    collect_garbage(self.index_dir, self.generations_to_keep)
                    raise
                finally:
                    draft.close()
        except IndexDiskFullError:
            raise
        except Exception as error:
            # Anywhere in the write, taking the lock and collecting garbage included.
            self._raise_disk_full(error)
            raise
        report.documents, report.chunks = manifest.documents, manifest.chunks
        report.segments, report.generation = len(manifest.segments), manifest.generation
        report.seconds = time.perf_counter() - started
        return report

    def _check_staged(self, staged: Sequence[StagedSegment], previous: Manifest | None) -> None:
        """Check the staged segments were written for this write's shard count (which, with
        none asked and no live index, is the one they were written for).

        Checked once the live index's count is known, not before: a writer asked for no
        count follows the index.

        Raises:
            IndexMismatchError: a segment was written for another shard count.
        """
        counts = {segment.shards for segment in staged}
        if self.asked_shards is None and previous is None and len(counts) == 1:
            self.shards = counts.pop()
        for segment in staged:
            if segment.shards != self.shards:
                raise IndexMismatchError(
                    f"staged segment {segment.folder} was written for {segment.shards} shards, "
                    f"this write has {self.shards}; write it again with shards={self.shards}"
                )

    def _start(self, previous: Manifest | None) -> _Draft:
        """The draft of the next generation: the live one's content, or nothing for a build."""
        if previous is None:
            return _Draft({}, CorpusStats.empty(), {}, {})
        stats = CorpusStats.load(current_generation(self.index_dir))
        return _Draft(
            {e.name: e.model_copy(deep=True) for e in previous.segments},
            stats,
            dict(previous.content_hashes),
            dict(previous.locations),
        )

    def _previous_manifest(self, fresh: bool) -> Manifest | None:
        """The live generation's manifest, or None for a build or a first write.

        Raises:
            IndexMismatchError: the live generation was built with another model or format.
        """
        if fresh:
            return None
        try:
            folder = current_generation(self.index_dir)
        except IndexNotFoundError:
            return None
        manifest = Manifest.read(folder)
        check_compatible(manifest, self.embedder, folder)
        if self.asked_shards is None:
            self.shards = manifest.shards
        elif manifest.shards != self.asked_shards:
            raise IndexMismatchError(
                f"{folder} has {manifest.shards} shards, this write asks for "
                f"{self.asked_shards}; leave CITEQA_SHARDS unset (or set it to "
                f"{manifest.shards}) to write with the index's count, or rebuild it with "
                f"`citeqa index build --shards {self.asked_shards}`"
            )
        return manifest

    def _apply(
        self,
        report: BuildReport,
        draft: _Draft,
        documents: Iterator[Document],
        processed: Iterator[ProcessedDocument] | None,
        deletions: list[str],
        previous: Manifest | None,
    ) -> Manifest:
        for doc_id in deletions:
            self._tombstone(draft, doc_id)
        report.deleted = list(deletions)
        stream = processed if processed is not None else self._process(report, draft, documents)
        written = self._write_segments(report, draft, stream)
        if previous is not None and not written and not deletions and not report.changed:
            return previous
        self._merge(draft, report)
        started = time.perf_counter()
        manifest = self._publish(draft, previous)
        report.timed("publish", started)
        return manifest

    def _process(
        self, report: BuildReport, draft: _Draft, documents: Iterator[Document]
    ) -> Iterator[ProcessedDocument]:
        """Clean, chunk, annotate and embed the changed documents, a batch at a time.

        The processor embeds the next batch while this one is written, and prepares it while
        this one's last texts are embedded (:meth:`DocumentProcessor.process_batches`).
        """
        batches = self._batches(report, draft, documents)
        first = next(batches, None)
        if first is None:  # nothing changed: no pool, no progress bar
            return
        stream = self.processor.process_batches(chain([first], batches), self.show_progress)
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

    def _batches(
        self, report: BuildReport, draft: _Draft, documents: Iterator[Document]
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

    def _write_segments(
        self, report: BuildReport, draft: _Draft, stream: Iterator[ProcessedDocument]
    ) -> int:
        """Write the stream into new segments, one open per shard; returns how many documents
        were written."""
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
                self._tombstone(draft, doc_id)
                report.replaced.append(doc_id)
            else:
                report.added.append(doc_id)
            shard = shard_of(doc_id, self.shards)
            builder = builders.get(shard)
            if builder is None:
                builder = builders[shard] = self._new_builder()
            builder.add(item)
            draft.hashes[doc_id] = item.document.content_hash or content_hash(item.document)
            written += 1
            if builder.chunks >= self.segment_chunks:
                self._finish(draft, builders.pop(shard), shard)
                report.timed("write segments", started)
                self._merge(draft, report)
            else:
                report.timed("write segments", started)
        for shard in sorted(builders):
            started = time.perf_counter()
            self._finish(draft, builders[shard], shard)
            report.timed("write segments", started)
        return written

    def _new_builder(self) -> SegmentBuilder:
        self.checkpoint("before-temp")
        folder = self.index_dir / SEGMENTS / f".tmp-{uuid.uuid4().hex}"
        return SegmentBuilder(folder, self.embedder.dimension, self.faiss_index, self.checkpoint)

    def _finish(self, draft: _Draft, builder: SegmentBuilder, shard: int) -> None:
        """Complete a segment, move it into place and count it in the draft."""
        name = f"s{next_segment_number(self.index_dir):06d}"
        builder.corpus_chunks = builder.chunks + sum(e.live_chunks for e in draft.segments.values())
        builder.finish(name)
        fsync_tree(builder.folder)
        final = self.index_dir / SEGMENTS / name
        rename_into_place(builder.folder, final)
        self._count_in(draft, final, shard, builder.doc_ids)

    def _count_in(self, draft: _Draft, folder: Path, shard: int, doc_ids: list[str]) -> None:
        """Add a complete segment to the draft: its entry, its documents, its statistics."""
        segment = draft.segment(folder)
        info = segment.info
        entry = SegmentEntry(
            name=folder.name,
            documents=info["documents"],
            chunks=info["chunks"],
            sentences=info["sentences"],
            factory=info["factory"],
            shard=shard,
        )
        draft.segments[entry.name] = entry
        for doc_id in doc_ids:
            draft.locations[doc_id] = entry.name
        keys, df = segment.terms.all_counts()
        length = int(np.asarray(segment.terms.chunk_length, dtype=np.int64).sum())
        draft.stats = draft.stats.changed(entry.chunks, length, keys, df)

    def _adopt_staged(
        self, report: BuildReport, draft: _Draft, staged: list[StagedSegment]
    ) -> None:
        """Name each staged segment and count it in, replacing documents of the same id."""
        for item in staged:
            folder = self.index_dir / SEGMENTS / item.folder
            if not item.folder.startswith(STAGED_PREFIX) or not folder.is_dir():
                raise IndexCorruptError(
                    f"{folder} is not a staged segment; write it with indexer.shards.write_segment"
                )
            name = f"s{next_segment_number(self.index_dir):06d}"
            info = json.loads((folder / SEGMENT_JSON).read_text())
            info["name"] = name
            (folder / SEGMENT_JSON).write_text(json.dumps(info, indent=2))
            fsync_tree(folder)
            final = self.index_dir / SEGMENTS / name
            rename_into_place(folder, final)
            hashes = draft.segment(final).content_hashes()
            for doc_id, _ in hashes:
                if doc_id in draft.hashes:
                    self._tombstone(draft, doc_id)
                    report.replaced.append(doc_id)
                else:
                    report.added.append(doc_id)
            self._count_in(draft, final, item.shard, [doc_id for doc_id, _ in hashes])
            draft.hashes.update(hashes)

    def _tombstone(self, draft: _Draft, doc_id: str) -> None:
        """Mark a document deleted in its segment and take it out of the statistics."""
        name = draft.locations.pop(doc_id)
        draft.hashes.pop(doc_id, None)
        entry = draft.segments[name]
        segment = draft.segment(self.index_dir / SEGMENTS / name)
        row = segment.row_of(doc_id)
        chunk_rows = segment.chunk_rows(row)
        rows = np.arange(chunk_rows.start, chunk_rows.stop, dtype=np.int64)
        keys, df = segment.terms.chunk_counts(rows)
        length = int(np.asarray(segment.terms.chunk_length[rows], dtype=np.int64).sum())
        draft.stats = draft.stats.changed(-len(rows), -length, keys, -df)
        entry.deleted.append(doc_id)
        entry.deleted_chunks += len(rows)
        entry.deleted_sentences += len(segment.sentence_rows(row))

    def _merge(self, draft: _Draft, report: BuildReport) -> None:
        """Run the one merge the policy asks for in each shard, if any."""
        for shard in range(self.shards):
            entries = [e for e in draft.segments.values() if e.shard == shard]
            live = {e.name: e.live_chunks for e in entries}
            deleted = {e.name: e.deleted_chunks for e in entries}
            names = self.merge_policy.plan(live, deleted)
            if names:
                self._merge_segments(draft, report, names, shard)

    def _merge_segments(
        self, draft: _Draft, report: BuildReport, names: list[str], shard: int
    ) -> None:
        """Rewrite segments of one shard as one, without their deleted documents."""
        started = time.perf_counter()
        builder = self._new_builder()
        for name in names:
            entry = draft.segments[name]
            segment = draft.segment(self.index_dir / SEGMENTS / name)
            segment.load_vectors()
            gone = set(entry.deleted)
            for row, doc_id in enumerate(segment.doc_ids):
                if doc_id not in gone:
                    builder.add(*segment.processed(row))
            # Done with it: unmapping its files keeps a merge's memory to one segment's.
            draft.release(name)
        stats = draft.stats
        for name in names:
            del draft.segments[name]
        if builder.doc_ids:
            self._finish(draft, builder, shard)
        else:  # every document was deleted: the segments just go
            builder.discard()
        # A merge moves live chunks, it does not change the corpus: keep the statistics.
        draft.stats = stats
        report.merged += len(names)
        report.timed("merge", started)

    def _publish(self, draft: _Draft, previous: Manifest | None) -> Manifest:
        number = next_generation_number(self.index_dir)
        # Sentences alone (no entities) in any part make the whole generation so.
        entities = self.processor.annotator.entities and (previous is None or previous.entities)
        chunker = self.processor.chunker
        manifest = Manifest(
            generation=number,
            model_name=self.embedder.name,
            dimension=self.embedder.dimension,
            embed_backend=self.embedder.backend,
            embed_family=numeric_family(self.embedder.backend),
            embed_weights=self.embedder.weights_hash,
            embed_export=self.embedder.export_hash,
            entities=entities,
            faiss_index=self.faiss_index,
            chunker=ChunkerSettings(
                chunk_size_tokens=chunker.chunk_size, chunk_overlap_tokens=chunker.chunk_overlap
            ),
            documents=len(draft.hashes),
            chunks=sum(e.live_chunks for e in draft.segments.values()),
            sentences=sum(e.sentences - e.deleted_sentences for e in draft.segments.values()),
            content_hashes=dict(sorted(draft.hashes.items())),
            locations=dict(sorted(draft.locations.items())),
            segments=list(draft.segments.values()),
            shards=self.shards,
            stats_hash=draft.stats.digest(),
        )
        temp = new_temp_folder(self.index_dir)
        try:
            draft.stats.save(temp)
            (temp / SEGMENT_LIST).write_text("".join(f"{s.name}\n" for s in manifest.segments))
            # The manifest goes last: a folder without one is never mistaken for a finished
            # write.
            manifest.write(temp)
            self._check_written(temp)
            publish(self.index_dir, temp, number, self.checkpoint)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        collect_garbage(self.index_dir, self.generations_to_keep)
        return manifest

    def _check_written(self, folder: Path) -> None:
        """Re-read what was just written; a short write fails here, not in production."""
        # Read under a lease, as any reader would: this also leaves the lease file in
        # place, so every published generation has one.
        lease = ReaderLease(folder)
        try:
            manifest = Manifest.read(folder)
            check_compatible(manifest, self.embedder, folder)
            stats = CorpusStats.load(folder)
            manifest.check_counts(folder, statistics_chunks=stats.chunks)
            manifest.check_statistics(folder, stats.digest())
            for entry in manifest.segments:
                path = self.index_dir / SEGMENTS / entry.name / SEGMENT_JSON
                info = json.loads(path.read_text())
                if (info["chunks"], info["documents"]) != (entry.chunks, entry.documents):
                    raise IndexCorruptError(
                        f"{path} holds {info['chunks']} chunks of {info['documents']} "
                        f"documents, the manifest says {entry.chunks} of {entry.documents}"
                    )
        finally:
            lease.release()

    def _raise_disk_full(self, error: BaseException) -> None:
        # A refusal (a locked index, an unknown id) is not a disk error on a nearly full
        # disk; a short file read back (IndexCorruptError) may be.
        refusal = isinstance(error, CiteqaError) and not isinstance(error, IndexCorruptError)
        if refusal or not is_disk_full(error, self.index_dir):
            return
        live = current_name(self.index_dir)
        served = f"still serves {live}" if live else "has no generation yet"
        raise IndexDiskFullError(
            f"no space left on the disk of {self.index_dir} ({error}); nothing was published "
            f"and the index {served}: free some space and retry"
        ) from error


def _check_deletions(deletions: list[str], existing: dict[str, str]) -> None:
    missing = [d for d in deletions if d not in existing]
    if missing:
        raise DocumentNotFoundError(
            f"not in the index: {', '.join(missing)}; list ids with "
            "`citeqa index stats --json` or GET /v1/documents"
        )
