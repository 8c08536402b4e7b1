"""SQLite document store: documents with their original text, chunks and annotation spans.

The store is the source of truth of a generation; the FAISS and BM25 files beside it are
derived from its chunk rows in ``position`` order.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from citeqa.types import Chunk, Document, Span
from indexer.annotate import Annotations
from indexer.chunking import sentences_within
from indexer.embedding import Vectors

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    title TEXT, source TEXT, published TEXT, url TEXT, path TEXT,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (doc_id, idx)
);
CREATE TABLE IF NOT EXISTS spans (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,          -- sentence | entity | noun_chunk
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    label TEXT NOT NULL,
    vector BLOB                  -- sentences only
);
CREATE INDEX IF NOT EXISTS spans_by_doc ON spans (doc_id, kind, char_start);
"""


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


class DocumentStore:
    """One SQLite file; safe to read from several threads (one connection per thread)."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        # Every thread's connection, so close() can close them all (not just the caller's):
        # otherwise a replaced generation's files stay open until garbage collection.
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        if not read_only:
            with self.transaction() as connection:
                connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._closed:
                raise sqlite3.ProgrammingError(f"{self.path} is closed")
            if self.read_only:
                connection = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
                )
            else:
                connection = sqlite3.connect(self.path, check_same_thread=False)
            connection.execute("PRAGMA foreign_keys = ON")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection whose block commits on success and rolls back on error."""
        connection = self._connection()
        with connection:
            yield connection

    def close(self) -> None:
        """Close every thread's connection; call it once no thread reads any more."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._closed = True
        for connection in connections:
            connection.close()
        self._local = threading.local()

    # -- writes -------------------------------------------------------------------------

    def put_document(
        self,
        document: Document,
        chunks: list[Chunk],
        chunk_vectors: Vectors,
        annotations: Annotations,
        sentence_vectors: Vectors,
    ) -> None:
        """Insert or replace a document with everything derived from it, in one transaction."""
        with self.transaction() as db:
            db.execute("DELETE FROM documents WHERE doc_id = ?", (document.doc_id,))
            db.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    document.doc_id,
                    document.text,
                    document.title,
                    document.source,
                    document.published,
                    document.url,
                    document.path,
                    document.content_hash,
                ),
            )
            db.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?)",
                [
                    (c.doc_id, c.index, c.char_start, c.char_end, _blob(v))
                    for c, v in zip(chunks, chunk_vectors, strict=True)
                ],
            )
            rows: list[tuple[str, str, int, int, str, bytes | None]] = [
                (document.doc_id, "sentence", s.start, s.end, s.label, _blob(v))
                for s, v in zip(annotations.sentences, sentence_vectors, strict=True)
            ]
            rows += [
                (document.doc_id, "entity", s.start, s.end, s.label, None)
                for s in annotations.entities
            ]
            rows += [
                (document.doc_id, "noun_chunk", s.start, s.end, s.label, None)
                for s in annotations.noun_chunks
            ]
            rows += [
                (document.doc_id, "metadata", s.start, s.end, s.label, None)
                for s in annotations.metadata
            ]
            db.executemany("INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?)", rows)

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        """Delete documents (their chunks and spans go with them); the number deleted."""
        with self.transaction() as db:
            cursor = db.executemany(
                "DELETE FROM documents WHERE doc_id = ?", [(d,) for d in doc_ids]
            )
            return cursor.rowcount

    # -- reads --------------------------------------------------------------------------

    def content_hashes(self) -> dict[str, str]:
        """Each stored document's content hash, by id."""
        rows = self._connection().execute("SELECT doc_id, content_hash FROM documents")
        return dict(rows.fetchall())

    def count(self, table: str, kind: str | None = None) -> int:
        """Rows in ``table`` (documents, chunks or spans), of one ``kind`` if given."""
        if table not in {"documents", "chunks", "spans"}:
            raise ValueError(f"unknown table {table}")
        sql = f"SELECT COUNT(*) FROM {table}" + (" WHERE kind = ?" if kind else "")
        return int(self._connection().execute(sql, (kind,) if kind else ()).fetchone()[0])

    def iter_documents(self) -> Iterator[Document]:
        """Every document with its text, in id order (one query, not one per document)."""
        rows = self._connection().execute(
            "SELECT doc_id, text, title, source, published, url, path, content_hash "
            "FROM documents ORDER BY doc_id"
        )
        for doc_id, text, title, source, published, url, path, content_hash in rows:
            yield Document(
                doc_id=doc_id,
                text=text,
                title=title,
                source=source,
                published=published,
                url=url,
                path=path,
                content_hash=content_hash,
            )

    def iter_chunks(self) -> Iterator[tuple[Chunk, bytes]]:
        """Chunks in index order (document id, then position) with their vectors."""
        texts: dict[str, str] = {}
        sentences: dict[str, list[Span]] = {}
        rows = self._connection().execute(
            "SELECT c.doc_id, c.idx, c.char_start, c.char_end, c.vector FROM chunks c "
            "ORDER BY c.doc_id, c.idx"
        )
        for doc_id, idx, start, end, vector in rows:
            if doc_id not in texts:
                texts.clear()
                sentences.clear()
                texts[doc_id] = self._document_text(doc_id)
                sentences[doc_id] = self.spans(doc_id, "sentence")
            inside = sentences_within(sentences[doc_id], start, end)
            yield Chunk(doc_id, idx, start, end, texts[doc_id][start:end], inside), vector

    def _document_text(self, doc_id: str) -> str:
        row = (
            self._connection()
            .execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,))
            .fetchone()
        )
        return str(row[0])

    def iter_sentence_vectors(self) -> Iterator[tuple[str, int, int, bytes]]:
        """Sentences in index order (document id, then offset) with their vectors."""
        rows = self._connection().execute(
            "SELECT doc_id, char_start, char_end, vector FROM spans WHERE kind = 'sentence' "
            "ORDER BY doc_id, char_start"
        )
        yield from rows

    def spans(self, doc_id: str, kind: str, start: int = 0, end: int | None = None) -> list[Span]:
        """Spans of one kind inside ``[start, end)`` of a document, by position."""
        rows = self._connection().execute(
            "SELECT char_start, char_end, label FROM spans WHERE doc_id = ? AND kind = ? "
            "AND char_start >= ? AND char_end <= ? ORDER BY char_start",
            (doc_id, kind, start, end if end is not None else 1 << 62),
        )
        return [Span(s, e, label) for s, e, label in rows]
