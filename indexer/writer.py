"""Build and update an index directory, one atomic generation per change.

Every write copies the live store into a temporary folder, applies the change, derives FAISS
and BM25 from the store's rows, re-reads and checks the result, and only then publishes it
(:mod:`indexer.generations`). Unchanged documents (same content hash) are never re-embedded.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citeqa.types import Document, IndexType, WriteStep
from indexer.embedding import Embedder
from indexer.errors import DocumentNotFoundError, IndexDiskFullError, IndexNotFoundError
from indexer.generations import (
    BM25_DIR,
    STORE_NAME,
    VECTORS_NAME,
    Checkpoint,
    collect_garbage,
    current_generation,
    fault_at,
    is_disk_full,
    new_temp_folder,
    next_generation_number,
    no_fault,
    publish,
)
from indexer.lexical import LexicalIndex
from indexer.loaders import SkippedFile, load_paths
from indexer.locks import ReaderLease, writer_lock
from indexer.manifest import ChunkerSettings, Manifest, check_compatible
from indexer.processing import DocumentProcessor, ProcessedDocument, content_hash
from indexer.store import DocumentStore
from indexer.vectors import build_vector_index, read_vector_index, write_vector_index


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
    generation: int | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """True when the write added, replaced or deleted anything."""
        return bool(self.added or self.replaced or self.deleted)


class IndexWriter:
    """Writes generations into ``index_dir``; one writer at a time (an OS file lock).

    A second writer, in this process or another, waits up to ``lock_timeout_s`` seconds,
    then fails with :class:`IndexLockedError`.
    """

    def __init__(
        self,
        index_dir: Path,
        processor: DocumentProcessor,
        faiss_index_type: IndexType = "flat",
        generations_to_keep: int = 2,
        show_progress: bool = False,
        fault_step: WriteStep | None = None,
        lock_timeout_s: float = 600.0,
    ) -> None:
        self.index_dir = index_dir
        self.processor = processor
        self.embedder: Embedder = processor.embedder
        self.faiss_index_type = faiss_index_type
        self.generations_to_keep = generations_to_keep
        self.show_progress = show_progress
        self.lock_timeout_s = lock_timeout_s
        # Kills the process at a named step of every write: for the reliability tests only.
        self.checkpoint = fault_at(fault_step)

    # -- public operations --------------------------------------------------------------

    def build(self, paths: Sequence[Path]) -> BuildReport:
        """Index ``paths`` from scratch into a new generation (the old one stays until done)."""
        loaded = load_paths(paths)
        report = BuildReport(skipped=list(loaded.skipped))
        return self._write(report, loaded.documents, [], fresh=True)

    def add(self, paths: Sequence[Path]) -> BuildReport:
        """Add or replace the documents read from files or folders."""
        loaded = load_paths(paths)
        report = BuildReport(skipped=list(loaded.skipped))
        return self._write(report, loaded.documents, [], fresh=False)

    def add_documents(self, documents: Sequence[Document]) -> BuildReport:
        """Add or replace documents given in memory."""
        return self._write(BuildReport(), list(documents), [], fresh=False)

    def delete(self, doc_ids: Sequence[str]) -> BuildReport:
        """Delete documents by id."""
        return self._write(BuildReport(), [], list(doc_ids), fresh=False)

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
        self, report: BuildReport, documents: list[Document], deletions: list[str], fresh: bool
    ) -> BuildReport:
        """Apply one change as one new generation: nothing to write, no new generation."""
        started = time.perf_counter()
        with writer_lock(self.index_dir, self.lock_timeout_s):
            collect_garbage(self.index_dir, self.generations_to_keep)
            previous = self._previous_generation()
            existing = self._existing_hashes(previous, fresh)
            _check_deletions(deletions, existing)
            todo = self._sort_changes(report, documents, existing)
            report.deleted = list(deletions)
            if previous is not None and not fresh and not todo and not deletions:
                manifest = Manifest.read(previous)
            else:
                processed = self._process(report, todo)
                number = next_generation_number(self.index_dir)
                base = None if fresh else previous
                # Sentences alone (no entities) in any part make the whole generation so.
                entities = self.processor.annotator.entities and (
                    base is None or Manifest.read(base).entities
                )
                manifest = self._write_generation(
                    base, _changes(deletions, processed), number, entities
                )
            report.documents, report.chunks = manifest.documents, manifest.chunks
            report.generation = manifest.generation
        report.seconds = time.perf_counter() - started
        return report

    def _previous_generation(self) -> Path | None:
        try:
            return current_generation(self.index_dir)
        except IndexNotFoundError:
            return None

    def _existing_hashes(self, previous: Path | None, fresh: bool) -> dict[str, str]:
        """Content hashes of the documents this write starts from (none for a build).

        Raises:
            IndexMismatchError: the live generation was built with another model or format.
        """
        # A fresh build replaces every vector, so it may change model or backend.
        if previous is None or fresh:
            return {}
        check_compatible(Manifest.read(previous), self.embedder, previous)
        store = DocumentStore(previous / STORE_NAME, read_only=True)
        try:
            return store.content_hashes()
        finally:
            store.close()

    @staticmethod
    def _sort_changes(
        report: BuildReport, documents: list[Document], existing: dict[str, str]
    ) -> list[Document]:
        todo = []
        for document in documents:
            known = existing.get(document.doc_id)
            if known == content_hash(document):
                report.unchanged.append(document.doc_id)
                continue
            (report.replaced if known else report.added).append(document.doc_id)
            todo.append(document)
        return todo

    def _process(self, report: BuildReport, todo: list[Document]) -> list[ProcessedDocument]:
        """Clean, chunk, annotate and embed; a document left without text is skipped."""
        processed = self.processor.process(todo, self.show_progress)
        for item in processed:
            if not item.chunks:
                report.skipped.append(
                    SkippedFile(
                        item.document.path or item.document.doc_id,
                        "no article text left after removing boilerplate",
                    )
                )
        return processed

    def _write_generation(
        self,
        base: Path | None,
        mutate: Callable[[DocumentStore], None],
        number: int,
        entities: bool = True,
    ) -> Manifest:
        self.checkpoint("before-temp")
        temp = new_temp_folder(self.index_dir)
        try:
            if base is not None:
                _copy_sqlite(base / STORE_NAME, temp / STORE_NAME, self.checkpoint)
            store = DocumentStore(temp / STORE_NAME)
            try:
                mutate(store)
                manifest = self._derive(store, temp, number, entities)
            finally:
                store.close()
            self._check_written(temp)
            publish(self.index_dir, temp, number, self.checkpoint)
        except BaseException as error:
            full = is_disk_full(error, temp)
            shutil.rmtree(temp, ignore_errors=True)
            if full:
                served = f"still serves {base.name}" if base else "has no generation yet"
                raise IndexDiskFullError(
                    f"no space left on the disk of {self.index_dir} while writing generation "
                    f"{number} ({error}); nothing was published and the index {served}: "
                    "free some space and retry"
                ) from error
            raise
        collect_garbage(self.index_dir, self.generations_to_keep)
        return manifest

    def _derive(
        self, store: DocumentStore, folder: Path, number: int, entities: bool = True
    ) -> Manifest:
        texts: list[str] = []
        blobs: list[bytes] = []
        for chunk, blob in store.iter_chunks():
            texts.append(chunk.text)
            blobs.append(blob)
        dimension = self.embedder.dimension
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dimension)
        write_vector_index(
            build_vector_index(vectors, self.faiss_index_type), folder / VECTORS_NAME, len(texts)
        )
        LexicalIndex.build(texts).save(folder / BM25_DIR)
        chunker = self.processor.chunker
        manifest = Manifest(
            generation=number,
            model_name=self.embedder.name,
            dimension=dimension,
            embed_backend=self.embedder.backend,
            embed_weights=self.embedder.weights_hash,
            embed_export=self.embedder.export_hash,
            entities=entities,
            faiss_index_type=self.faiss_index_type,
            chunker=ChunkerSettings(
                chunk_size_tokens=chunker.chunk_size, chunk_overlap_tokens=chunker.chunk_overlap
            ),
            documents=store.count("documents"),
            chunks=len(texts),
            sentences=store.count("spans", "sentence"),
            content_hashes=store.content_hashes(),
        )
        # The manifest goes last: a folder without one is never mistaken for a finished write.
        manifest.write(folder)
        return manifest

    def _check_written(self, folder: Path) -> None:
        """Re-read everything just written; a short write fails here, not in production."""
        # Read under a lease, as any reader would: this also leaves the lease file in
        # place, so every published generation has one.
        lease = ReaderLease(folder)
        try:
            manifest = Manifest.read(folder)
            check_compatible(manifest, self.embedder, folder)
            store = DocumentStore(folder / STORE_NAME, read_only=True)
            try:
                documents = sum(1 for _ in store.iter_documents())
                chunks = sum(1 for _ in store.iter_chunks())
                sentences = sum(1 for _ in store.iter_sentence_vectors())
            finally:
                store.close()
            manifest.check_counts(
                folder,
                documents=documents,
                chunks=chunks,
                vectors=int(read_vector_index(folder / VECTORS_NAME).ntotal),
                bm25_chunks=LexicalIndex.load(folder / BM25_DIR).size,
                sentences=sentences,
            )
        finally:
            lease.release()


def _check_deletions(deletions: list[str], existing: dict[str, str]) -> None:
    missing = [d for d in deletions if d not in existing]
    if missing:
        raise DocumentNotFoundError(
            f"not in the index: {', '.join(missing)}; list ids with "
            "`citeqa index stats --json` or GET /v1/documents"
        )


def _changes(
    deletions: list[str], processed: list[ProcessedDocument]
) -> Callable[[DocumentStore], None]:
    """The change to apply to a copy of the store: deletions, then new and replaced ones."""

    def apply(store: DocumentStore) -> None:
        store.delete_documents(deletions)
        for item in processed:
            if item.chunks:
                store.put_document(
                    item.document,
                    item.chunks,
                    item.chunk_vectors,
                    item.annotations,
                    item.sentence_vectors,
                )

    return apply


def _copy_sqlite(source: Path, target: Path, checkpoint: Checkpoint = no_fault) -> None:
    """Copy a SQLite database consistently (the backup API, not a file copy)."""

    def progress(*_: int) -> None:  # (status, remaining, total): only the moment matters
        checkpoint("during-copy")

    # closing(), not the connections' own `with` (a transaction, not a close): a copy that
    # fails half way (a full disk) must not keep the file open.
    with (
        closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        # In steps of 256 pages, so the fault hook can stop a copy half done.
        src.backup(dst, pages=256, progress=progress)
