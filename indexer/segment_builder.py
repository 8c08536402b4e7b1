"""Writing one segment: :class:`SegmentBuilder` adds documents one by one, then finishes.

Vectors go to disk as documents come; the SQLite store's span index, the row tables, the
FAISS index and the term lists are written by :meth:`SegmentBuilder.finish`. The layout of
the finished folder, and the reader of it, are in :mod:`indexer.segment`.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedding import Vectors
from indexer.generations import no_fault
from indexer.processing import ProcessedDocument
from indexer.segment import (
    CHUNK_VECTORS_TEMP,
    SEGMENT_JSON,
    SENTENCE_VECTORS,
    STORE,
    TERMS,
    VECTORS,
    SegmentInfo,
    TermData,
    read_rows,
)
from indexer.terms import Keys, SegmentTerms, TermCounter
from indexer.vectors import build_streamed, build_vector_index, choose_factory, write_vector_index

_SCHEMA = """
CREATE TABLE documents (
    row INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    title TEXT, source TEXT, published TEXT, url TEXT, path TEXT,
    content_hash TEXT NOT NULL
);
CREATE TABLE spans (
    doc_row INTEGER NOT NULL,
    kind TEXT NOT NULL,          -- sentence | entity | noun_chunk | metadata
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    label TEXT NOT NULL
);
"""
# Built once the rows are in: faster than keeping it up to date on every insert.
_SPAN_INDEX = "CREATE INDEX spans_by_doc ON spans (doc_row, kind, char_start)"


@dataclass
class _Terms:
    """Term data gathered while building, a few arrays per document (millions of small
    per-chunk arrays would cost more in object headers than in data)."""

    chunk_keys: list[Keys] = field(default_factory=list)
    chunk_counts: list[npt.NDArray[np.int32]] = field(default_factory=list)
    chunk_sizes: list[int] = field(default_factory=list)
    sentence_keys: list[Keys] = field(default_factory=list)
    sentence_sizes: list[int] = field(default_factory=list)


class SegmentBuilder:
    """Writes one segment into ``folder`` document by document; memory stays bounded.

    Vectors go to disk as they come; only the term lists and the small row tables are kept
    until :meth:`finish`.
    """

    def __init__(
        self,
        folder: Path,
        dimension: int,
        factory: str,
        checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.folder = folder
        self.dimension = dimension
        self.factory = factory
        self.checkpoint = checkpoint or no_fault
        # The corpus's size once this segment is in: `auto` picks exact search only while
        # the whole corpus is small (indexer.vectors.choose_factory). Set by the writer.
        self.corpus_chunks = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / STORE)
        self._db.executescript(_SCHEMA)
        self._chunk_file = open(folder / CHUNK_VECTORS_TEMP, "wb")  # noqa: SIM115
        self._sentence_file = open(folder / SENTENCE_VECTORS, "wb")  # noqa: SIM115
        self._counter = TermCounter()
        self._terms = _Terms()
        self.doc_ids: list[str] = []
        self._documents: list[tuple[int, int]] = []
        self._chunks: list[tuple[int, int, int, int]] = []
        self._chunk_sentences: list[tuple[int, int]] = []
        self._sentences: list[tuple[int, int, int]] = []

    @property
    def chunks(self) -> int:
        """Chunks added so far."""
        return len(self._chunks)

    def add(self, item: ProcessedDocument, terms: TermData | None = None) -> None:
        """Add one document with everything derived from it (its terms counted if not given)."""
        document, found = item.document, item.annotations
        row = len(self.doc_ids)
        self.doc_ids.append(document.doc_id)
        self._documents.append((len(self._chunks), len(self._sentences)))
        self._db.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row,
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
        spans = [
            (row, kind, s.start, s.end, s.label)
            for kind, group in (
                ("sentence", found.sentences),
                ("entity", found.entities),
                ("noun_chunk", found.noun_chunks),
                ("metadata", found.metadata),
            )
            for s in group
        ]
        self._db.executemany("INSERT INTO spans VALUES (?, ?, ?, ?, ?)", spans)
        first_sentence = len(self._sentences)
        sentences = sorted(found.sentences, key=lambda s: s.start)
        self._sentences += [(row, s.start, s.end) for s in sentences]
        starts = np.array([s.start for s in sentences], dtype=np.int64)
        ends = np.array([s.end for s in sentences], dtype=np.int64)
        for chunk in item.chunks:
            self._chunks.append((row, chunk.index, chunk.char_start, chunk.char_end))
            # Sentences are in order and do not overlap: those touching a chunk are a run.
            lo = int(np.searchsorted(ends, chunk.char_start, side="right"))
            hi = int(np.searchsorted(starts, chunk.char_end, side="left"))
            self._chunk_sentences.append((first_sentence + lo, first_sentence + max(lo, hi)))
        self._chunk_file.write(np.ascontiguousarray(item.chunk_vectors, np.float32).tobytes())
        self._sentence_file.write(np.ascontiguousarray(item.sentence_vectors, np.float16).tobytes())
        self._add_terms(item, terms)

    def _add_terms(self, item: ProcessedDocument, terms: TermData | None) -> None:
        if terms is None:
            text = item.document.text
            terms = TermData(
                [self._counter.counts(c.text) for c in item.chunks],
                [
                    self._counter.counts(text[s.start : s.end])[0]
                    for s in sorted(item.annotations.sentences, key=lambda s: s.start)
                ],
            )
        gathered = self._terms
        if terms.chunks:
            gathered.chunk_keys.append(np.concatenate([k for k, _ in terms.chunks]))
            gathered.chunk_counts.append(np.concatenate([n for _, n in terms.chunks]))
        gathered.chunk_sizes += [len(k) for k, _ in terms.chunks]
        if terms.sentences:
            gathered.sentence_keys.append(np.concatenate(terms.sentences))
        gathered.sentence_sizes += [len(k) for k in terms.sentences]

    def discard(self) -> None:
        """Give up this segment: close its files and remove its folder."""
        self._chunk_file.close()
        self._sentence_file.close()
        self._db.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def finish(self, name: str) -> SegmentInfo:
        """Write the row tables, the FAISS index and the terms; the segment is then complete."""
        self._chunk_file.close()
        self._sentence_file.close()
        self.checkpoint("during-write")
        self._db.execute(_SPAN_INDEX)
        self._db.commit()
        self._db.close()
        folder = self.folder
        documents = np.array(self._documents, dtype=np.int64).reshape(-1, 2)
        np.save(folder / "documents.npy", documents)
        np.save(folder / "chunks.npy", np.array(self._chunks, dtype=np.int64).reshape(-1, 4))
        np.save(
            folder / "chunk_sentences.npy",
            np.array(self._chunk_sentences, dtype=np.int64).reshape(-1, 2),
        )
        np.save(folder / "sentences.npy", np.array(self._sentences, dtype=np.int64).reshape(-1, 3))
        self._write_terms()
        factory = choose_factory(self.chunks, self.factory, self.corpus_chunks)
        self._write_vectors(factory)
        info = SegmentInfo(
            name=name,
            documents=len(self.doc_ids),
            chunks=self.chunks,
            sentences=len(self._sentences),
            dimension=self.dimension,
            factory=factory,
        )
        (folder / SEGMENT_JSON).write_text(json.dumps(info, indent=2))
        return info

    def _write_terms(self) -> None:
        gathered, self._terms = self._terms, _Terms()
        SegmentTerms.build(
            _joined(gathered.chunk_keys, np.uint64),
            _joined(gathered.chunk_counts, np.int32),
            np.array(gathered.chunk_sizes, dtype=np.int64),
            _joined(gathered.sentence_keys, np.uint64),
            np.array(gathered.sentence_sizes, dtype=np.int64),
        ).save(self.folder / TERMS)

    def _write_vectors(self, factory: str) -> None:
        raw = self.folder / CHUNK_VECTORS_TEMP
        if self.chunks:
            # Read in batches, not mapped: a mapping of the whole file would count, page by
            # page, in the build's memory.
            def read(start: int, end: int) -> Vectors:
                rows: Vectors = read_rows(raw, start, end, self.dimension, np.float32)
                return rows

            index = build_streamed(read, self.chunks, self.dimension, factory)
        else:
            index = build_vector_index(np.zeros((0, self.dimension), np.float32), "Flat")
        write_vector_index(index, self.folder / VECTORS, self.chunks)
        raw.unlink()


def _joined(parts: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
