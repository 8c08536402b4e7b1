"""Segments: immutable sets of documents with their chunks, spans, vectors and terms.

A segment is written once by :class:`indexer.segment_builder.SegmentBuilder` and never
changed; a generation's manifest lists the segments it reads and the documents deleted from
each (tombstones). Everything the query side needs is in files it memory-maps, so opening a
segment reads no rows::

    segments/s000012/segment.json          counts, dimension, FAISS factory
                     store.sqlite          documents (text, metadata) and their spans
                     documents.npy         per document row: first chunk, first sentence
                     chunks.npy            per chunk row: document row, index, start, end
                     chunk_sentences.npy   per chunk row: its sentence rows [first, end)
                     sentences.npy         per sentence row: document row, start, end
                     sentence_vectors.f16  float16, one row per sentence
                     vectors.faiss         the chunk vectors
                     terms/                postings and term lists (indexer.terms)

Rows are local: a generation numbers chunks across its segments by adding each segment's
base (see :mod:`indexer.index`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Document, Span
from indexer.annotate import Annotations
from indexer.chunking import sentences_within
from indexer.embedding import Vectors
from indexer.errors import IndexCorruptError
from indexer.processing import ProcessedDocument
from indexer.terms import Keys, SegmentTerms, TermLists, load_array
from indexer.vectors import Deletions, prepare_for_search, read_vector_index, reconstruct

SEGMENT_JSON = "segment.json"
STORE = "store.sqlite"
SENTENCE_VECTORS = "sentence_vectors.f16"
CHUNK_VECTORS_TEMP = "chunk_vectors.f32.tmp"
VECTORS = "vectors.faiss"
TERMS = "terms"
SPAN_KINDS = ("sentence", "entity", "noun_chunk", "metadata")


class SegmentInfo(dict[str, Any]):
    """The content of ``segment.json`` (name, documents, chunks, sentences, factory, ...)."""


@dataclass(frozen=True)
class TermData:
    """A document's terms, already counted: per chunk (keys, counts), per sentence keys."""

    chunks: list[tuple[Keys, npt.NDArray[np.int32]]]
    sentences: list[Keys]


def read_rows(path: Path, start: int, end: int, dimension: int, dtype: Any) -> npt.NDArray[Any]:
    """Rows ``[start, end)`` of a raw matrix file, read (not mapped)."""
    size = np.dtype(dtype).itemsize * dimension
    with open(path, "rb") as handle:
        handle.seek(start * size)
        data = np.fromfile(handle, dtype=dtype, count=(end - start) * dimension)
    return data.reshape(end - start, dimension)


# A segment's folder is written once and never changed (deletions live in the manifest), so
# its document ids are read once per process, not at every generation that still holds it:
# at a million chunks that was half a second of each API write's reload (eval/RESULTS.md).
# Held weakly, as the FAISS indexes below: a merged-away segment's ids are freed with it.
class DocIds(list[str]):
    """A segment's document ids by row (a list that a weak reference can point at)."""


_DOC_IDS: weakref.WeakValueDictionary[tuple[str, int, int, int, str], DocIds] = (
    weakref.WeakValueDictionary()
)
_SHARED_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple[str, int, int, int]:
    """Which file this is, and which version of it: a file written again has another key."""
    stat = path.stat()
    return str(path.resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size


def _doc_ids(
    store: Path, documents: npt.NDArray[Any], connect: Callable[[], sqlite3.Connection]
) -> DocIds:
    """The document ids of a segment's store, by row (shared: treat as read-only).

    Keyed by the store file and a hash of the segment's documents table, so a folder
    deleted and written again at the same path (tests do) is read again.
    """
    table = hashlib.sha1(np.ascontiguousarray(documents).data, usedforsecurity=False)
    key = (*_file_key(store), table.hexdigest())
    with _SHARED_LOCK:
        cached = _DOC_IDS.get(key)
    if cached is not None:
        return cached
    # Row and id both sit in the unique index on doc_id, so SQLite scans that small index
    # instead of the table, which holds every document's text: on a large index, reading the
    # table was most of a cold start's index load.
    rows = connect().execute("SELECT row, doc_id FROM documents").fetchall()
    rows.sort()
    doc_ids = DocIds(doc_id for _, doc_id in rows)
    with _SHARED_LOCK:
        _DOC_IDS[key] = doc_ids
    return doc_ids


# The same holds for its FAISS index, which a search only reads (deletions are masks passed
# beside it): a new generation shares the prepared index of each segment it keeps with the
# generation it replaces, instead of reading hundreds of MB again. Held weakly, so a segment
# no generation holds any more is freed.
_VECTOR_INDEXES: weakref.WeakValueDictionary[tuple[str, int, int, int], Any] = (
    weakref.WeakValueDictionary()
)


def _vector_index(path: Path) -> Any:
    """The segment's FAISS index, prepared for search (shared: never modify it)."""
    try:
        key = _file_key(path)
    except OSError:
        return prepare_for_search(read_vector_index(path))  # raises, saying how to rebuild
    with _SHARED_LOCK:
        index = _VECTOR_INDEXES.get(key)
    if index is None:
        index = prepare_for_search(read_vector_index(path))
        with _SHARED_LOCK:
            _VECTOR_INDEXES[key] = index
    return index


class Segment:
    """One segment, opened for reading: arrays memory-mapped, text read on demand."""

    def __init__(self, folder: Path, vectors: bool = True) -> None:
        """Open ``folder``; ``vectors=False`` leaves the FAISS index unread until needed."""
        self.folder = folder
        try:
            self.info = SegmentInfo(json.loads((folder / SEGMENT_JSON).read_text()))
            self.documents_table = load_array(folder / "documents.npy")
            self.chunks_table = load_array(folder / "chunks.npy")
            self.chunk_sentences = load_array(folder / "chunk_sentences.npy")
            self.sentences_table = load_array(folder / "sentences.npy")
            sentences = int(self.info["sentences"])
            dimension = int(self.info["dimension"])
            self.sentence_vectors: npt.NDArray[np.float16] = (
                np.asarray(
                    np.memmap(
                        folder / SENTENCE_VECTORS,
                        dtype=np.float16,
                        mode="r",
                        shape=(sentences, dimension),
                    )
                )
                if sentences
                else np.zeros((0, dimension), np.float16)
            )
        except (OSError, ValueError, KeyError) as error:
            raise IndexCorruptError(
                f"segment {folder} cannot be read ({error}); rebuild with `citeqa index build`"
            ) from error
        self.terms = SegmentTerms.load(folder / TERMS)
        self.vector_index: Any = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.doc_ids = _doc_ids(folder / STORE, self.documents_table, self._db)
        self._check()
        if vectors:
            self.load_vectors()

    def load_vectors(self) -> None:
        """Read the FAISS index (once) and check it holds a vector per chunk."""
        if self.vector_index is not None:
            return
        index = _vector_index(self.folder / VECTORS)
        if int(index.ntotal) != self.chunks:
            raise IndexCorruptError(
                f"segment {self.folder} has {self.chunks} chunks but {index.ntotal} vectors; "
                "rebuild with `citeqa index build`"
            )
        self.vector_index = index

    def deleted_rows(self, doc_ids: list[str]) -> Deletions | None:
        """The chunk rows of ``doc_ids`` as a mask FAISS takes, or None when there are none."""
        if not doc_ids:
            return None
        mask = np.zeros(self.chunks, dtype=np.bool_)
        for doc_id in doc_ids:
            rows = self.chunk_rows(self.row_of(doc_id))
            mask[rows.start : rows.stop] = True
        return Deletions.of(mask)

    def content_hashes(self) -> list[tuple[str, str]]:
        """(document id, content hash) of every document, by row."""
        found = self._db().execute("SELECT doc_id, content_hash FROM documents ORDER BY row")
        return [(str(doc_id), str(value)) for doc_id, value in found]

    def row_of(self, doc_id: str) -> int:
        """The row of a document in this segment (one SQLite read)."""
        found = self._db().execute("SELECT row FROM documents WHERE doc_id = ?", (doc_id,))
        row = found.fetchone()
        if row is None:
            raise IndexCorruptError(f"segment {self.folder} has no document {doc_id!r}")
        return int(row[0])

    @property
    def name(self) -> str:
        """The segment's folder name (``s000012``)."""
        return self.folder.name

    @property
    def chunks(self) -> int:
        """Chunk rows (deleted ones included)."""
        return len(self.chunks_table)

    @property
    def sentences(self) -> int:
        """Sentence rows (deleted ones included)."""
        return len(self.sentences_table)

    def _check(self) -> None:
        want = (int(self.info["documents"]), int(self.info["chunks"]), int(self.info["sentences"]))
        have = (len(self.doc_ids), self.chunks, self.sentences)
        extra = {
            "chunks in the terms": self.terms.chunks,
            "documents in the row table": len(self.documents_table),
        }
        if want != have or tuple(extra.values()) != (want[1], want[0]):
            raise IndexCorruptError(
                f"segment {self.folder} says {want} documents/chunks/sentences, holds {have} "
                f"({extra}); rebuild with `citeqa index build`"
            )

    def _db(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                f"file:{self.folder / STORE}?mode=ro", uri=True, check_same_thread=False
            )
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        """Close every thread's SQLite connection and let go of the mapped files (a
        removed segment's disk space is only freed once nothing maps it)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()
        self.vector_index = None
        empty = np.zeros((0, 4), dtype=np.int64)
        self.documents_table = self.chunks_table = self.chunk_sentences = empty
        self.sentences_table = empty
        self.sentence_vectors = np.zeros((0, 1), np.float16)
        # The term lists are mapped files too, each holding its file open: a removed
        # segment's files stay on disk (and count as open) until they are let go.
        self.terms = SegmentTerms.empty()

    # -- rows ------------------------------------------------------------------------------

    def document(self, row: int) -> Document:
        """The document at ``row``, text included (one SQLite read)."""
        return self.documents([row])[row]

    def documents(self, rows: Sequence[int]) -> dict[int, Document]:
        """The documents at ``rows`` by row, read in one SQLite query: a query's few dozen
        candidates cost one round trip, not one each."""
        wanted = sorted(set(rows))
        marks = ",".join("?" * len(wanted))
        found = self._db().execute(
            "SELECT row, doc_id, text, title, source, published, url, path, content_hash "
            f"FROM documents WHERE row IN ({marks})",
            wanted,
        )
        documents = {
            row: Document(
                doc_id=doc_id,
                text=text,
                title=title,
                source=source,
                published=published,
                url=url,
                path=path,
                content_hash=content_hash,
            )
            for row, doc_id, text, title, source, published, url, path, content_hash in found
        }
        missing = [row for row in wanted if row not in documents]
        if missing:
            raise IndexCorruptError(f"segment {self.folder} has no document row {missing[0]}")
        return documents

    def _rows(self, doc_row: int, column: int, total: int) -> range:
        """A document's run of rows in a table whose first rows ``documents.npy`` holds."""
        table = self.documents_table
        end = int(table[doc_row + 1, column]) if doc_row + 1 < len(table) else total
        return range(int(table[doc_row, column]), end)

    def chunk_rows(self, doc_row: int) -> range:
        """The chunk rows of one document."""
        return self._rows(doc_row, 0, self.chunks)

    def sentence_rows(self, doc_row: int) -> range:
        """The sentence rows of one document."""
        return self._rows(doc_row, 1, self.sentences)

    def sentence_spans(self, rows: range) -> list[Span]:
        """The sentence spans of consecutive sentence rows."""
        table = self.sentences_table[rows.start : rows.stop]
        return [Span(int(s), int(e), "sentence") for _, s, e in table]

    def chunk(self, row: int, text: str) -> Chunk:
        """The chunk at ``row``; ``text`` is its document's text."""
        doc_row, idx, start, end = (int(v) for v in self.chunks_table[row])
        first, stop = (int(v) for v in self.chunk_sentences[row])
        inside = sentences_within(self.sentence_spans(range(first, stop)), start, end)
        return Chunk(self.doc_ids[doc_row], idx, start, end, text[start:end], inside)

    def spans(self, doc_row: int, kind: str, start: int = 0, end: int | None = None) -> list[Span]:
        """Spans of one kind inside ``[start, end)`` of a document, by position."""
        rows = self._db().execute(
            "SELECT char_start, char_end, label FROM spans WHERE doc_row = ? AND kind = ? "
            "AND char_start >= ? AND char_end <= ? ORDER BY char_start",
            (doc_row, kind, start, end if end is not None else 1 << 62),
        )
        return [Span(s, e, label) for s, e, label in rows]

    def chunk_vectors(self, rows: npt.NDArray[np.int64]) -> Vectors:
        """The chunk vectors of ``rows`` (from FAISS: exact for flat indexes)."""
        self.load_vectors()
        return reconstruct(self.vector_index, rows)

    def processed(self, doc_row: int) -> tuple[ProcessedDocument, TermData]:
        """A document as it was added, with its terms: what a merge copies."""
        document = self.document(doc_row)
        chunk_rows = self.chunk_rows(doc_row)
        sentence_rows = self.sentence_rows(doc_row)
        sentences = self.spans(doc_row, "sentence")
        chunks = [self.chunk(r, document.text) for r in chunk_rows]
        annotations = Annotations(
            sentences=sentences,
            entities=self.spans(doc_row, "entity"),
            noun_chunks=self.spans(doc_row, "noun_chunk"),
            metadata=self.spans(doc_row, "metadata"),
        )
        rows = np.arange(chunk_rows.start, chunk_rows.stop, dtype=np.int64)
        item = ProcessedDocument(
            document,
            chunks,
            annotations,
            self.chunk_vectors(rows) if len(rows) else np.zeros((0, 1), np.float32),
            read_rows(
                self.folder / SENTENCE_VECTORS,
                sentence_rows.start,
                sentence_rows.stop,
                int(self.info["dimension"]),
                np.float16,
            ),
        )
        terms = self.terms
        o = terms.chunk_terms_offsets
        chunk_terms = [
            (
                terms.keys[terms.chunk_terms[o[r] : o[r + 1]]],
                np.asarray(terms.chunk_tf[o[r] : o[r + 1]], dtype=np.int32),
            )
            for r in chunk_rows
        ]
        return item, TermData(chunk_terms, [terms.sentence_keys(r) for r in sentence_rows])


@dataclass(frozen=True)
class SentenceBlock:
    """The sentences overlapping one chunk, read in one go."""

    first: int  # the position of the first sentence
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    vectors: Vectors
    terms: TermLists

    def __len__(self) -> int:
        return len(self.starts)
