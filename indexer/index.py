"""A loaded index generation: documents, chunks, FAISS, BM25 and sentence vectors in memory.

Example:
    >>> index = load_index(Path("data/index"), embedder)  # doctest: +SKIP
    >>> [hit.chunk.doc_id for hit in index.search("How many people has Mexico extradited?")]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Hit
from indexer.embedding import Embedder, Vectors, numeric_family
from indexer.errors import IndexCorruptError, IndexMismatchError
from indexer.generations import current_generation
from indexer.lexical import LexicalIndex
from indexer.locks import ReaderLease
from indexer.manifest import FORMAT_VERSION, Manifest
from indexer.store import DocumentStore
from indexer.vectors import read_vector_index

SearchMode = Literal["dense", "bm25", "hybrid"]
RRF_K = 60
STORE_NAME = "store.sqlite"
VECTORS_NAME = "chunks.faiss"
BM25_DIR = "bm25"
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


def check_compatible(manifest: Manifest, embedder: Embedder | None, folder: Path) -> None:
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{folder} has index format {manifest.format_version}, this citeqa reads "
            f"{FORMAT_VERSION}; rebuild with `citeqa index build`"
        )
    if embedder is None:
        return
    if manifest.model_name != embedder.name or manifest.dimension != embedder.dimension:
        raise IndexMismatchError(
            f"{folder} was built with model {manifest.model_name!r} ({manifest.dimension} "
            f"dimensions) but the configured model is {embedder.name!r} ({embedder.dimension} "
            "dimensions); set CITEQA_EMBEDDING_MODEL to the model it was built with, or rebuild "
            "with `citeqa index build`"
        )
    if manifest.embed_weights and manifest.embed_weights != embedder.weights_hash:
        raise IndexMismatchError(
            f"{folder} was built with other weights of {manifest.model_name!r} (hash "
            f"{manifest.embed_weights}, the configured model's is {embedder.weights_hash}); "
            "set CITEQA_EMBEDDING_MODEL to the model it was built with, or rebuild with "
            "`citeqa index build`"
        )
    if numeric_family(manifest.embed_backend) != numeric_family(embedder.backend):
        raise IndexMismatchError(
            f"{folder} was built with the {manifest.embed_backend} embedding backend, whose "
            f"vectors differ from the configured {embedder.backend} backend's; set "
            f"CITEQA_EMBED_BACKEND={manifest.embed_backend}, or rebuild with "
            "`citeqa index build`"
        )


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
    """One loaded, read-only generation. Build and update with :class:`IndexWriter`."""

    def __init__(self, folder: Path, embedder: Embedder | None) -> None:
        """Raises FileNotFoundError if a writer removed ``folder`` before it could be leased."""
        self.folder = folder
        # Held until close(): no writer, in any process, deletes a generation being read.
        self.lease = ReaderLease(folder)
        try:
            self._load(embedder)
        except BaseException:
            if hasattr(self, "store"):
                self.store.close()
            self.lease.release()
            raise

    def _load(self, embedder: Embedder | None) -> None:
        folder = self.folder
        self.manifest = Manifest.read(folder)
        check_compatible(self.manifest, embedder, folder)
        self.embedder = embedder
        self.store = DocumentStore(folder / STORE_NAME, read_only=True)
        self.vectors: Any = read_vector_index(folder / VECTORS_NAME)
        self.lexical = LexicalIndex.load(folder / BM25_DIR)
        self.chunks = [chunk for chunk, _ in self.store.iter_chunks()]
        self.position_of = {chunk.chunk_id: i for i, chunk in enumerate(self.chunks)}
        self.documents = {d.doc_id: d for d in self.store.iter_documents()}
        self.chunk_counts: dict[str, int] = {}
        for chunk in self.chunks:
            self.chunk_counts[chunk.doc_id] = self.chunk_counts.get(chunk.doc_id, 0) + 1
        self.sentences = _load_sentences(self.store, self.manifest.dimension)
        self.chunk_sentences = _chunk_sentence_rows(self.chunks, self.sentences)
        self._check_counts()
        # Kept in memory so re-ranking can score any candidate, BM25-only ones included.
        self.chunk_vectors: Vectors = (
            self.vectors.reconstruct_n(0, self.vectors.ntotal)
            if self.vectors.ntotal
            else np.zeros((0, self.manifest.dimension), dtype=np.float32)
        )

    def _check_counts(self) -> None:
        expected = {
            "documents": (self.manifest.documents, len(self.documents)),
            "chunks in the store": (self.manifest.chunks, len(self.chunks)),
            "vectors in FAISS": (self.manifest.chunks, int(self.vectors.ntotal)),
            "chunks in BM25": (self.manifest.chunks, self.lexical.size),
            "sentences": (self.manifest.sentences, len(self.sentences)),
        }
        for what, (want, have) in expected.items():
            if want != have:
                raise IndexCorruptError(
                    f"{self.folder}: manifest says {want} {what}, found {have}; the generation "
                    "is damaged: rebuild with `citeqa index build`"
                )

    def close(self) -> None:
        """Close the SQLite handles and give up the lease; a later write may remove it."""
        self.store.close()
        self.lease.release()

    # -- search -------------------------------------------------------------------------

    def encode_query(self, query: str) -> Vectors:
        if self.embedder is None:
            raise RuntimeError("this index was loaded without an embedder; dense search needs one")
        return self.embedder.encode_query(query)

    def dense_search(self, query_vector: Vectors, k: int) -> list[tuple[int, float]]:
        """Top ``k`` chunk positions by cosine similarity."""
        if not self.chunks or k <= 0:
            return []
        scores, ids = self.vectors.search(query_vector.reshape(1, -1), min(k, len(self.chunks)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def lexical_search(self, query: str, k: int) -> list[tuple[int, float]]:
        ids, scores = self.lexical.search(query, k)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]

    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        candidates: int = 50,
        query_vector: Vectors | None = None,
    ) -> list[Hit]:
        """Retrieve chunks; ``hybrid`` fuses dense and BM25 ranks by reciprocal rank fusion."""
        if k <= 0:
            raise ValueError("k must be greater than 0")
        pool = max(k, candidates)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            vector = query_vector if query_vector is not None else self.encode_query(query)
            dense = self.dense_search(vector, pool)
        if mode in ("bm25", "hybrid"):
            lexical = self.lexical_search(query, pool)
        return self._fuse(dense, lexical)[:k]

    def _fuse(
        self, dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]]
    ) -> list[Hit]:
        fused: dict[int, float] = {}
        for ranking in (dense, lexical):
            for rank, (position, _) in enumerate(ranking, start=1):
                fused[position] = fused.get(position, 0.0) + 1.0 / (RRF_K + rank)
        dense_at = {p: (rank, s) for rank, (p, s) in enumerate(dense, start=1)}
        lexical_at = {p: (rank, s) for rank, (p, s) in enumerate(lexical, start=1)}
        hits = [
            Hit(
                chunk=self.chunks[position],
                score=score,
                dense_score=dense_at[position][1] if position in dense_at else None,
                bm25_score=lexical_at[position][1] if position in lexical_at else None,
                dense_rank=dense_at[position][0] if position in dense_at else None,
                bm25_rank=lexical_at[position][0] if position in lexical_at else None,
            )
            for position, score in fused.items()
        ]
        hits.sort(key=lambda h: (-h.score, h.chunk.doc_id, h.chunk.index))
        return hits


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
