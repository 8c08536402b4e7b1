"""Build and update an index directory: the public API of a write (:class:`IndexWriter`).

A write never changes a file that a published generation reads. Under the writer lock, a
write starts a draft of the next generation from the live one (:mod:`indexer.draft`),
then its parts change the draft, each in its own module, as Tantivy splits its writer:

- :mod:`indexer.ingest` writes new and replaced documents into new segments as they stream
  in (:mod:`indexer.segment_builder`), or adopts segments staged by other processes;
  unchanged documents (same content hash) are never re-embedded;
- :mod:`indexer.tombstones` marks deleted and replaced documents in the draft and takes
  their chunks out of the corpus statistics (:mod:`indexer.terms`);
- :mod:`indexer.merging` compacts small segments with a tiered policy;
- :mod:`indexer.publishing` writes the new manifest and statistics, checks them and
  switches ``CURRENT`` (:mod:`indexer.generations`).

With ``shards=S`` (:mod:`indexer.shards`), each document goes to its shard's segment, a
segment holds one shard's documents, and merges only combine segments of one shard; one
shard (the default) writes exactly what an unsharded writer wrote. Segments written by
other processes are published with :meth:`IndexWriter.publish_segments`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from citeqa.types import Document
from indexer.draft import Draft
from indexer.embedding import Embedder
from indexer.errors import IndexDiskFullError, IndexNotFoundError
from indexer.generations import (
    Checkpoint,
    collect_garbage,
    current_generation,
    no_fault,
    raise_if_disk_full,
)
from indexer.ingest import adopt_staged, process, write_segments
from indexer.loaders import iter_paths
from indexer.locks import writer_lock
from indexer.manifest import Manifest, check_compatible
from indexer.merging import MergePolicy, merge
from indexer.processing import DocumentProcessor, ProcessedDocument
from indexer.publishing import publish_draft
from indexer.report import BuildReport
from indexer.shards import StagedSegment, live_shards, staged_shards
from indexer.sync import Pruning
from indexer.tombstones import check_deletions, delete
from indexer.vectors import AUTO


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
        # A no-op at each named step of a write; the kill -9 tests replace it
        # (tests/reliability/kill_at_step.py).
        self.checkpoint: Checkpoint = no_fault

    # -- public operations --------------------------------------------------------------

    def build(self, paths: Sequence[Path]) -> BuildReport:
        """Index ``paths`` from scratch into a new generation (the old one stays until done)."""
        report = BuildReport()
        return self._write(report, iter_paths(paths, report.skipped), [], fresh=True)

    def add(self, paths: Sequence[Path]) -> BuildReport:
        """Add or replace the documents read from files or folders."""
        report = BuildReport()
        return self._write(report, iter_paths(paths, report.skipped), [], fresh=False)

    def sync(self, paths: Sequence[Path]) -> BuildReport:
        """Make the index hold what ``paths`` hold now: add and replace as :meth:`add`
        does, and delete the documents once read from under ``paths`` that are no longer
        there (:mod:`indexer.sync`), all in one generation."""
        report = BuildReport()
        pruning = Pruning.of(paths)
        documents = pruning.reading(iter_paths(paths, report.skipped))
        return self._write(report, documents, [], fresh=False, pruning=pruning)

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
        pruning: Pruning | None = None,
    ) -> BuildReport:
        """Apply one change as one new generation: nothing to write, no new generation.

        ``lock_timeout_s`` overrides, for this write, how long it waits for another writer;
        ``pruning`` also deletes what a synced folder no longer holds.
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
                    # Checked once the live index's count is known, not before: a writer
                    # asked for no count follows the index.
                    self.shards = staged_shards(
                        staged, self.shards, self.asked_shards, live=previous is not None
                    )
                draft = self._start(previous)
                try:
                    check_deletions(deletions, draft.hashes)
                    if staged:
                        adopt_staged(report, draft, staged)
                    manifest = self._apply(
                        report, draft, documents, processed, deletions, previous, pruning
                    )
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
            raise_if_disk_full(error, self.index_dir)
            raise
        report.documents, report.chunks = manifest.documents, manifest.chunks
        report.segments, report.generation = len(manifest.segments), manifest.generation
        report.seconds = time.perf_counter() - started
        return report

    def _start(self, previous: Manifest | None) -> Draft:
        """The draft of the next generation, its segments written with this writer's settings."""
        dimension = self.embedder.dimension
        return Draft.start(self.index_dir, previous, dimension, self.faiss_index, self.checkpoint)

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
        self.shards = live_shards(folder, manifest.shards, self.asked_shards)
        return manifest

    def _apply(
        self,
        report: BuildReport,
        draft: Draft,
        documents: Iterator[Document],
        processed: Iterator[ProcessedDocument] | None,
        deletions: list[str],
        previous: Manifest | None,
        pruning: Pruning | None = None,
    ) -> Manifest:
        """Tombstone, write new segments, merge and publish: the draft's changes, in order."""
        delete(draft, report, deletions)
        stream = (
            processed
            if processed is not None
            else process(self.processor, report, draft, documents, self.show_progress)
        )
        written = write_segments(
            report, draft, stream, self.shards, self.segment_chunks, self.merge_policy
        )
        if pruning is not None:  # every document is read by now: what was not is gone
            delete(draft, report, pruning.stale(draft, report.skipped))
        if previous is not None and not written and not report.changed:
            return previous
        merge(draft, report, self.merge_policy, self.shards)
        started = time.perf_counter()
        manifest = publish_draft(
            draft, previous, self.processor, self.shards, self.generations_to_keep
        )
        report.timed("publish", started)
        return manifest
