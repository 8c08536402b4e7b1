"""A loaded index generation, checked against its manifest, and its read API.

:func:`load_index` opens the current generation: its manifest, corpus statistics and the
segments it names (:mod:`indexer.segment`). Opening reads no rows: arrays are
memory-mapped, and documents, chunks and spans are read from SQLite when asked for (the
last ones asked for are cached). :class:`Index` only reads; searching is query-time work,
in :mod:`service.retrieval`.

Chunks and sentences have one number across the generation, their *position*: a segment's
rows follow the rows of the segments before it. Deleted documents keep their positions, and
:meth:`Index.deleted` masks them.

``Index(folder, embedder, shard=k)`` opens only the segments of shard ``k``
(:mod:`indexer.shards`), with the generation's corpus-wide statistics and the same
positions as the whole generation: what one shard's process serves.

Example (needs a built index, so not run as a doctest)::

    index = load_index(Path("data/index"), embedder)
    index.documents["002_b8ec4b7f77a3a021"].title
    # -> "Mexico president defends extradition of 37 cartel leaders to US as 'sovereign choice'"
    [e.label for e in index.spans("002_b8ec4b7f77a3a021", "entity")][:3]
    # -> ['GPE', 'CARDINAL', 'GPE']
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Generic, Literal, TypeVar

import cachetools
import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Document, Span
from indexer.embedding import Embedder, Vectors
from indexer.errors import IndexMismatchError
from indexer.generations import SEGMENTS, current_generation
from indexer.locks import ReaderLease
from indexer.manifest import Manifest, SegmentEntry, check_compatible
from indexer.segment import Segment, SentenceBlock
from indexer.terms import CorpusStats, TermLists
from indexer.vectors import Deletions

# What the store records about a document, besides its chunks.
SpanKind = Literal["sentence", "entity", "noun_chunk", "metadata"]
_LOAD_ATTEMPTS = 5
# Documents and chunks kept after a read: a query reads a few dozen of each, and a corpus's
# most asked documents stay in memory (2,048 news articles are about 10 MB of text).
_CACHED_DOCUMENTS = 2048
_CACHED_CHUNKS = 4096


K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """``cachetools.LRUCache`` behind a lock: queries on several threads share one cache,
    and cachetools' caches are not thread-safe on their own."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: cachetools.LRUCache[K, V] = cachetools.LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` (now the most recent), or None."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep ``value``; the least recently used one goes when the cache is full."""
        with self._lock:
            self._items[key] = value

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._items.clear()


class Documents(Mapping[str, Document]):
    """The live documents by id, read from their segment's store on demand."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._cache: LRUCache[str, Document] = LRUCache(_CACHED_DOCUMENTS)

    def release(self) -> None:
        """Forget the (closed) index and the cached documents.

        The index holds this mapping and this mapping the index: a cycle that only the
        cycle collector frees, whenever it happens to run. Closing breaks it at once.
        """
        self._cache.clear()
        self.__dict__.pop("_index", None)

    def __getitem__(self, doc_id: str) -> Document:
        found = self._cache.get(doc_id)
        if found is None:
            segment, row = self._index.locate_document(doc_id)
            found = segment.document(row)
            self._cache.put(doc_id, found)
        return found

    def many(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        """Live documents by id, those not cached read with one query per segment."""
        found: dict[str, Document] = {}
        missing: dict[int, dict[int, str]] = {}  # segment number -> row -> doc id
        for doc_id in doc_ids:
            cached = self._cache.get(doc_id)
            if cached is not None:
                found[doc_id] = cached
            elif doc_id not in found:
                at = self._index.segment_of(doc_id)
                missing.setdefault(at, {})[self._index.segments[at].row_of(doc_id)] = doc_id
        for at, rows in missing.items():
            for row, document in self._index.segments[at].documents(list(rows)).items():
                found[rows[row]] = document
                self._cache.put(rows[row], document)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.locations)

    def __len__(self) -> int:
        return len(self._index.locations)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._index.locations


class Chunks:
    """Chunks by position; iterating and ``len`` see the live ones only."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._cache: LRUCache[int, Chunk] = LRUCache(_CACHED_CHUNKS)

    def release(self) -> None:
        """Forget the (closed) index and the cached chunks (see :meth:`Documents.release`)."""
        self._cache.clear()
        self.__dict__.pop("_index", None)

    def __len__(self) -> int:
        return self._index.live_chunks

    def __iter__(self) -> Iterator[Chunk]:
        for at, deleted in enumerate(self._index.deleted):
            base = int(self._index.chunk_base[at])
            for row in range(self._index.segments[at].chunks):
                if deleted is None or not deleted.mask[row]:
                    yield self[base + row]

    def __getitem__(self, position: int) -> Chunk:
        if not 0 <= position < self._index.size:
            raise IndexError(position)
        found = self._cache.get(position)
        if found is None:
            segment, row = self._index.locate(position)
            doc_id = segment.doc_ids[int(segment.chunks_table[row, 0])]
            found = segment.chunk(row, self._index.documents[doc_id].text)
            self._cache.put(position, found)
        return found

    def many(self, positions: Sequence[int]) -> list[Chunk]:
        """The chunks at ``positions``, in that order; their documents are read together."""
        index = self._index
        found = {p: c for p in positions if (c := self._cache.get(p)) is not None}
        wanted = [p for p in dict.fromkeys(positions) if p not in found]
        for position in wanted:
            if not 0 <= position < index.size:
                raise IndexError(position)
        texts = index.documents.many([index.sort_key(p)[0] for p in wanted])
        for position in wanted:
            segment, row = index.locate(position)
            doc_id = segment.doc_ids[int(segment.chunks_table[row, 0])]
            found[position] = segment.chunk(row, texts[doc_id].text)
            self._cache.put(position, found[position])
        return [found[p] for p in positions]


class Index:
    """One loaded, read-only generation. Build and update with :class:`IndexWriter`."""

    def __init__(self, folder: Path, embedder: Embedder | None, shard: int | None = None) -> None:
        """Open a generation, or only the segments of ``shard`` in it.

        Raises FileNotFoundError if a writer removed ``folder`` before it could be leased.
        """
        self.folder = folder
        self.shard = shard
        self.segments: list[Segment] = []
        # Held until close(): no writer, in any process, deletes a generation being read
        # (nor, with it, the segments it names).
        self.lease = ReaderLease(folder)
        try:
            self._load(embedder)
        except BaseException:
            self.close()
            raise

    def _load(self, embedder: Embedder | None) -> None:
        folder = self.folder
        self.manifest = Manifest.read(folder)
        check_compatible(self.manifest, embedder, folder)
        self.stats = CorpusStats.load(folder)
        self.manifest.check_counts(folder, statistics_chunks=self.stats.chunks)
        entries = self.manifest.segments
        if self.shard is not None:
            self._check_shard()
            entries = [e for e in entries if e.shard == self.shard]
        root = folder.parent.parent / SEGMENTS
        for entry in entries:
            self.segments.append(Segment(root / entry.name))
        self._by_name = {s.name: i for i, s in enumerate(self.segments)}
        self.chunk_base, self.sentence_base = self._bases(entries)
        # The same bases as a list: a query finds the segment of a few hundred positions (tie
        # keys among them), and bisect on a list takes a tenth of numpy's call overhead.
        self._chunk_bases: list[int] = self.chunk_base.tolist()
        self.locations = self.manifest.locations
        self.live_chunks = self.manifest.chunks
        if self.shard is not None:
            self.locations = {d: n for d, n in self.locations.items() if n in self._by_name}
            self.live_chunks = sum(e.live_chunks for e in entries)
        # Packed once per generation: FAISS takes the bitmap as it is (indexer.vectors).
        self.deleted: list[Deletions | None] = [
            segment.deleted_rows(entry.deleted)
            for segment, entry in zip(self.segments, entries, strict=True)
        ]
        self.documents = Documents(self)
        self.chunks = Chunks(self)

    def _check_shard(self) -> None:
        """A shard scores with the generation's own statistics, and must be one of its shards."""
        manifest = self.manifest
        if self.shard is None or not 0 <= self.shard < manifest.shards:
            raise IndexMismatchError(
                f"{self.folder} has {manifest.shards} shards, there is no shard {self.shard}; "
                f"serve shards 0 to {manifest.shards - 1}"
            )
        manifest.check_statistics(self.folder, self.stats.digest())

    def _bases(
        self, entries: list[SegmentEntry]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The first chunk and sentence position of each opened segment, and one past the
        last: the generation's positions, whichever segments (shards) are open."""
        if self.shard is None:
            chunks = np.cumsum([0, *(s.chunks for s in self.segments)]).astype(np.int64)
            sentences = np.cumsum([0, *(s.sentences for s in self.segments)]).astype(np.int64)
            return chunks, sentences
        every = self.manifest.segments
        chunk_at = np.cumsum([0, *(e.chunks for e in every)]).astype(np.int64)
        sentence_at = np.cumsum([0, *(e.sentences for e in every)]).astype(np.int64)
        where = {e.name: i for i, e in enumerate(every)}
        opened = [where[e.name] for e in entries]
        ends = [opened[-1] + 1] if opened else [0]
        return chunk_at[opened + ends], sentence_at[opened + ends]

    # -- positions ---------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Chunk positions, deleted ones included."""
        return int(self.chunk_base[-1])

    def _at(self, position: int) -> tuple[int, int]:
        """The number of a chunk position's segment, and the chunk's row in it."""
        at = bisect_right(self._chunk_bases, position) - 1
        row = position - self._chunk_bases[at]
        # A shard's segments leave gaps, the other shards' positions.
        if self.shard is not None and (at < 0 or row >= self.segments[at].chunks):
            raise IndexError(f"chunk position {position} is not in shard {self.shard}")
        return at, row

    def locate(self, position: int) -> tuple[Segment, int]:
        """The segment of a chunk position and the chunk's row in it."""
        at, row = self._at(position)
        return self.segments[at], row

    def sort_key(self, position: int) -> tuple[str, int]:
        """(document id, chunk index) of a chunk position: how ties are broken."""
        segment, row = self.locate(position)
        return segment.doc_ids[int(segment.chunks_table[row, 0])], int(segment.chunks_table[row, 1])

    def segment_of(self, doc_id: str) -> int:
        """The number of the segment holding a live document; KeyError if none."""
        return self._by_name[self.locations[doc_id]]

    def locate_document(self, doc_id: str) -> tuple[Segment, int]:
        """The segment holding a live document and its row there; KeyError if none."""
        segment = self.segments[self.segment_of(doc_id)]
        return segment, segment.row_of(doc_id)

    # -- reads -------------------------------------------------------------------------

    def chunk_count(self, doc_id: str) -> int:
        """How many chunks a live document has."""
        segment, row = self.locate_document(doc_id)
        return len(segment.chunk_rows(row))

    def chunk_vectors(self, positions: Sequence[int]) -> Vectors:
        """The vectors of chunk positions, in that order."""
        out = np.zeros((len(positions), self.manifest.dimension), dtype=np.float32)
        by_segment: dict[int, list[int]] = {}
        for i, position in enumerate(positions):
            by_segment.setdefault(self._at(position)[0], []).append(i)
        for at, slots in by_segment.items():
            rows = np.array([positions[i] for i in slots], dtype=np.int64) - self.chunk_base[at]
            out[slots] = self.segments[at].chunk_vectors(rows)
        return out

    def chunk_sentences(self, position: int) -> SentenceBlock:
        """The sentences that overlap a chunk: offsets, vectors (float32) and terms."""
        at, row = self._at(position)
        segment = self.segments[at]
        first, end = (int(v) for v in segment.chunk_sentences[row])
        table = np.asarray(segment.sentences_table[first:end])
        terms = segment.terms
        offsets = np.asarray(terms.sentence_terms_offsets[first : end + 1])
        return SentenceBlock(
            first=int(self.sentence_base[at]) + first,
            starts=table[:, 1],
            ends=table[:, 2],
            vectors=np.asarray(segment.sentence_vectors[first:end], dtype=np.float32),
            terms=TermLists(
                at,
                offsets - offsets[0],
                np.asarray(terms.sentence_terms[offsets[0] : offsets[-1]]),
            ),
        )

    def chunk_terms(self, position: int) -> TermLists:
        """The distinct terms of one chunk."""
        at, row = self._at(position)
        terms = self.segments[at].terms
        lo, hi = int(terms.chunk_terms_offsets[row]), int(terms.chunk_terms_offsets[row + 1])
        return TermLists(
            at, np.array([0, hi - lo], dtype=np.int64), np.asarray(terms.chunk_terms[lo:hi])
        )

    def spans(
        self, doc_id: str, kind: SpanKind, start: int = 0, end: int | None = None
    ) -> list[Span]:
        """The spans of one kind inside ``[start, end)`` of a document, by position.

        Read from the store on each call: entities, noun chunks and metadata are only
        needed for the few sentences an answer is read from.
        """
        segment, row = self.locate_document(doc_id)
        return segment.spans(row, kind, start, end)

    def close(self) -> None:
        """Close the SQLite handles and mapped files and give up the lease; a later write
        may then remove the generation. Nothing may read the index after this."""
        for segment in self.segments:
            segment.close()
        self.lease.release()
        # Break the cycles through the read views, so the rest is freed now (a failed
        # load may close before they exist).
        for view in (self.__dict__.get("documents"), self.__dict__.get("chunks")):
            if view is not None:
                view.release()


def load_index(
    index_dir: Path, embedder: Embedder | None = None, shard: int | None = None
) -> Index:
    """Load the current generation of ``index_dir`` (only shard ``shard``'s segments if given).

    Raises:
        IndexNotFoundError: no generation has been built in ``index_dir``.
        IndexMismatchError: it was built with another model, dimension or format.
        IndexCorruptError: its files are missing, truncated or disagree in count.
    """
    for _ in range(_LOAD_ATTEMPTS - 1):
        try:
            return Index(current_generation(index_dir), embedder, shard)
        except FileNotFoundError:
            continue  # a writer replaced and removed it between reading CURRENT and leasing
    return Index(current_generation(index_dir), embedder, shard)
