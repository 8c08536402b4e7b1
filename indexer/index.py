"""A loaded index generation, checked against its manifest, and its read API.

:func:`load_index` loads the current generation (documents, chunks, sentence and chunk
vectors, the FAISS and BM25 indexes) and checks it. :class:`Index` only reads: documents by
id, chunks, the spans of a document and the vectors. Searching is query-time work, in
:mod:`service.retrieval.hybrid`.

Example:
    >>> index = load_index(Path("data/index"), embedder)  # doctest: +SKIP
    >>> index.documents["002_b8ec4b7f77a3a021"].title  # doctest: +SKIP
    "Mexico president defends extradition of 37 cartel leaders to US as 'sovereign choice'"
    >>> [e.label for e in index.spans("002_b8ec4b7f77a3a021", "entity")][:3]  # doctest: +SKIP
    ['GPE', 'CARDINAL', 'GPE']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Span
from indexer.embedding import Embedder, Vectors
from indexer.generations import BM25_DIR, STORE_NAME, VECTORS_NAME, current_generation
from indexer.lexical import LexicalIndex
from indexer.locks import ReaderLease
from indexer.manifest import Manifest, check_compatible
from indexer.store import DocumentStore
from indexer.vectors import read_vector_index

# What the store records about a document, besides its chunks.
SpanKind = Literal["sentence", "entity", "noun_chunk", "metadata"]
_LOAD_ATTEMPTS = 5


@dataclass(frozen=True)
class SentenceTable:
    """Every indexed sentence, in (document, offset) order, with its vector."""

    doc_ids: list[str]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    vectors: Vectors

    def __len__(self) -> int:
        return len(self.doc_ids)


def _load_sentences(store: DocumentStore, dimension: int) -> SentenceTable:
    doc_ids: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    blobs: list[bytes] = []
    for doc_id, start, end, blob in store.iter_sentence_vectors():
        doc_ids.append(doc_id)
        starts.append(start)
        ends.append(end)
        blobs.append(blob)
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dimension)
    return SentenceTable(doc_ids, np.array(starts, np.int64), np.array(ends, np.int64), vectors)


def _chunk_sentence_rows(chunks: list[Chunk], sentences: SentenceTable) -> list[list[int]]:
    """For each chunk, the sentence rows that overlap it (both tables are in document order)."""
    by_doc: dict[str, list[int]] = {}
    for row, doc_id in enumerate(sentences.doc_ids):
        by_doc.setdefault(doc_id, []).append(row)
    result = []
    for chunk in chunks:
        rows = by_doc.get(chunk.doc_id, [])
        result.append(
            [
                r
                for r in rows
                if sentences.starts[r] < chunk.char_end and sentences.ends[r] > chunk.char_start
            ]
        )
    return result


class Index:
    """One loaded, read-only generation. Build and update with :class:`IndexWriter`.

    Chunks are numbered by their position in :attr:`chunks` (document id, then index):
    the FAISS and BM25 indexes and :attr:`chunk_vectors` use the same numbers.
    """

    def __init__(self, folder: Path, embedder: Embedder | None) -> None:
        """Raises FileNotFoundError if a writer removed ``folder`` before it could be leased."""
        self.folder = folder
        # Held until close(): no writer, in any process, deletes a generation being read.
        self.lease = ReaderLease(folder)
        try:
            self._load(embedder)
        except BaseException:
            if hasattr(self, "_store"):
                self._store.close()
            self.lease.release()
            raise

    def _load(self, embedder: Embedder | None) -> None:
        folder = self.folder
        self.manifest = Manifest.read(folder)
        check_compatible(self.manifest, embedder, folder)
        self._store = DocumentStore(folder / STORE_NAME, read_only=True)
        # The FAISS and BM25 indexes, for the retrievers of service.retrieval.hybrid.
        self.vector_index: Any = read_vector_index(folder / VECTORS_NAME)
        self.lexical_index = LexicalIndex.load(folder / BM25_DIR)
        self.chunks = [chunk for chunk, _ in self._store.iter_chunks()]
        self.position_of = {chunk.chunk_id: i for i, chunk in enumerate(self.chunks)}
        self.documents = {d.doc_id: d for d in self._store.iter_documents()}
        self.chunk_counts: dict[str, int] = {}
        for chunk in self.chunks:
            self.chunk_counts[chunk.doc_id] = self.chunk_counts.get(chunk.doc_id, 0) + 1
        self.sentences = _load_sentences(self._store, self.manifest.dimension)
        self.chunk_sentences = _chunk_sentence_rows(self.chunks, self.sentences)
        self.manifest.check_counts(
            folder,
            documents=len(self.documents),
            chunks=len(self.chunks),
            vectors=int(self.vector_index.ntotal),
            bm25_chunks=self.lexical_index.size,
            sentences=len(self.sentences),
        )
        # Kept in memory so re-ranking can score any candidate, BM25-only ones included.
        self.chunk_vectors: Vectors = (
            self.vector_index.reconstruct_n(0, self.vector_index.ntotal)
            if self.vector_index.ntotal
            else np.zeros((0, self.manifest.dimension), dtype=np.float32)
        )

    def spans(
        self, doc_id: str, kind: SpanKind, start: int = 0, end: int | None = None
    ) -> list[Span]:
        """The spans of one kind inside ``[start, end)`` of a document, by position.

        Read from the store on each call: entities, noun chunks and metadata are only
        needed for the few sentences an answer is read from.
        """
        return self._store.spans(doc_id, kind, start, end)

    def close(self) -> None:
        """Close the SQLite handles and give up the lease; a later write may remove it."""
        self._store.close()
        self.lease.release()


def load_index(index_dir: Path, embedder: Embedder | None = None) -> Index:
    """Load the current generation of ``index_dir``.

    Raises:
        IndexNotFoundError: no generation has been built in ``index_dir``.
        IndexMismatchError: it was built with another model, dimension or format.
        IndexCorruptError: its files are missing, truncated or disagree in count.
    """
    for _ in range(_LOAD_ATTEMPTS - 1):
        try:
            return Index(current_generation(index_dir), embedder)
        except FileNotFoundError:
            continue  # a writer replaced and removed it between reading CURRENT and leasing
    return Index(current_generation(index_dir), embedder)
