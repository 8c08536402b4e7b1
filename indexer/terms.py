"""Lexical data of a segment, and the corpus-wide statistics BM25 scores with.

Terms are the stemmed content words of :func:`citeqa.text.content_terms`, stored as 64-bit
keys (:func:`term_key`) so a segment's vocabulary is one sorted ``uint64`` array, memory-mapped,
not a dict of strings built at start-up. A segment keeps three views, each a CSR pair of
``.npy`` files:

- postings: for each term, the chunk rows holding it and how often (BM25);
- chunk terms: for each chunk, its distinct terms (term coverage, and subtracting a deleted
  chunk from the statistics);
- sentence terms: for each sentence, its distinct terms (sentence re-scoring).

Document frequencies, the chunk count and the total length are corpus-wide
(:class:`CorpusStats`), kept per generation and applied at query time: adding a segment or
deleting a document changes them without touching any other segment, and every segment
scores with the same IDF, so results equal those of a one-segment build.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from citeqa.text import content_terms
from indexer.errors import IndexCorruptError

Keys = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.int32]
Offsets = npt.NDArray[np.int64]

# BM25 as Lucene (and bm25s's default "lucene" method) computes it.
BM25_K1 = 1.5
BM25_B = 0.75

_FILES = (
    "keys",
    "postings_offsets",
    "postings_rows",
    "postings_tf",
    "chunk_length",
    "chunk_terms_offsets",
    "chunk_terms",
    "chunk_tf",
    "sentence_terms_offsets",
    "sentence_terms",
)


def load_array(path: Path) -> npt.NDArray[Any]:
    """Memory-map a ``.npy`` file (read it whole when it is empty: nothing to map)."""
    try:
        mapped: npt.NDArray[Any] = np.load(path, mmap_mode="r")
    except ValueError:
        array: npt.NDArray[Any] = np.load(path)
        if array.size:
            raise
        return array
    # A plain array over the same mapping: numpy's memmap subclass makes every small read
    # several times slower, and the query path makes thousands.
    return np.asarray(mapped)


def term_key(term: str) -> int:
    """A stable 64-bit key for a term (the same in every process and every segment)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


def query_keys(text: str) -> Keys:
    """The keys of the content terms of ``text``, in order, repeats kept (a query's terms)."""
    return np.array([term_key(t) for t in content_terms(text)], dtype=np.uint64)


class TermCounter:
    """Turns texts into per-text term counts, caching each distinct term's key."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}

    def counts(self, text: str) -> tuple[Keys, npt.NDArray[np.int32]]:
        """The distinct term keys of ``text`` (sorted) and how often each occurs."""
        counted = Counter(content_terms(text))
        keys = self._keys
        pairs = sorted(
            (keys.get(t) or keys.setdefault(t, term_key(t)), n) for t, n in counted.items()
        )
        return (
            np.array([k for k, _ in pairs], dtype=np.uint64),
            np.array([n for _, n in pairs], dtype=np.int32),
        )


@dataclass(frozen=True)
class SegmentTerms:
    """The lexical arrays of one segment (see the module docstring)."""

    keys: Keys  # sorted distinct term keys; a term's number is its position here
    postings_offsets: Offsets
    postings_rows: Rows  # chunk rows, ascending within each term
    postings_tf: npt.NDArray[np.int32]
    chunk_length: npt.NDArray[np.int32]  # content terms per chunk, repeats counted
    chunk_terms_offsets: Offsets
    chunk_terms: Rows  # term numbers
    chunk_tf: npt.NDArray[np.int32]  # how often each of those occurs in the chunk
    sentence_terms_offsets: Offsets
    sentence_terms: Rows

    @classmethod
    def build(
        cls,
        chunk_keys: Keys,
        chunk_counts: npt.NDArray[np.int32],
        chunk_sizes: npt.NDArray[np.int64],
        sentence_keys: Keys,
        sentence_sizes: npt.NDArray[np.int64],
    ) -> SegmentTerms:
        """From every chunk's distinct keys (sorted) and counts, and every sentence's
        distinct keys, concatenated: row ``i`` has ``sizes[i]`` of them."""
        keys = np.unique(np.concatenate([chunk_keys, sentence_keys]))
        numbers = np.searchsorted(keys, chunk_keys).astype(np.int32)
        offsets = np.zeros(len(chunk_sizes) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(chunk_sizes)
        counted = np.zeros(len(chunk_counts) + 1, dtype=np.int64)
        counted[1:] = np.cumsum(chunk_counts)
        lengths = (counted[offsets[1:]] - counted[offsets[:-1]]).astype(np.int32)
        rows = np.repeat(np.arange(len(chunk_sizes), dtype=np.int32), chunk_sizes)
        # Postings: the forward index sorted by term, then row (a stable sort keeps rows
        # ascending).
        order = np.argsort(numbers, kind="stable")
        postings_offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        postings_offsets[1:] = np.cumsum(np.bincount(numbers, minlength=len(keys)))
        sentence_offsets = np.zeros(len(sentence_sizes) + 1, dtype=np.int64)
        sentence_offsets[1:] = np.cumsum(sentence_sizes)
        return cls(
            keys=keys,
            postings_offsets=postings_offsets,
            postings_rows=rows[order],
            postings_tf=chunk_counts.astype(np.int32)[order],
            chunk_length=lengths,
            chunk_terms_offsets=offsets,
            chunk_terms=numbers,
            chunk_tf=chunk_counts.astype(np.int32),
            sentence_terms_offsets=sentence_offsets,
            sentence_terms=np.searchsorted(keys, sentence_keys).astype(np.int32),
        )

    def save(self, folder: Path) -> None:
        """Write every array as ``.npy`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in _FILES:
            np.save(folder / f"{name}.npy", getattr(self, name))

    @classmethod
    def empty(cls) -> SegmentTerms:
        """No rows and no terms: what a closed segment keeps, so its mappings are freed."""
        offsets = np.zeros(1, dtype=np.int64)
        rows = np.zeros(0, dtype=np.int32)
        return cls(
            keys=np.zeros(0, dtype=np.uint64),
            postings_offsets=offsets,
            postings_rows=rows,
            postings_tf=rows,
            chunk_length=rows,
            chunk_terms_offsets=offsets,
            chunk_terms=rows,
            chunk_tf=rows,
            sentence_terms_offsets=offsets,
            sentence_terms=rows,
        )

    @classmethod
    def load(cls, folder: Path) -> SegmentTerms:
        """Memory-map the arrays written by :meth:`save`."""
        try:
            arrays = {name: load_array(folder / f"{name}.npy") for name in _FILES}
        except (OSError, ValueError) as error:
            raise IndexCorruptError(
                f"the lexical data in {folder} cannot be read ({error}); rebuild with "
                "`citeqa index build`"
            ) from error
        return cls(**arrays)

    @property
    def chunks(self) -> int:
        """How many chunk rows the segment has."""
        return len(self.chunk_length)

    def numbers(self, keys: Keys) -> npt.NDArray[np.int64]:
        """Each key's term number in this segment, or -1 where the segment lacks it."""
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.searchsorted(self.keys, keys)
        at = np.minimum(at, len(self.keys) - 1)
        return np.where(self.keys[at] == keys, at, -1).astype(np.int64)

    def bm25(
        self, keys: Keys, idf: npt.NDArray[np.float32], average: np.float32
    ) -> npt.NDArray[np.float32] | None:
        """BM25 of every chunk row for the query terms ``keys`` weighted ``idf`` (the corpus's,
        :meth:`CorpusStats.bm25_weights`), or None when the segment holds none of them.

        Terms are added in query order, so a chunk's score is the same float in any segment.
        """
        scores: npt.NDArray[np.float32] | None = None
        offsets = self.postings_offsets
        for number, weight in zip(self.numbers(keys), idf, strict=True):
            if number < 0:
                continue
            lo, hi = int(offsets[number]), int(offsets[number + 1])
            rows = self.postings_rows[lo:hi]
            tf = self.postings_tf[lo:hi].astype(np.float32)
            length = self.chunk_length[rows].astype(np.float32)
            norm = np.float32(BM25_K1) * (
                np.float32(1 - BM25_B) + np.float32(BM25_B) * length / average
            )
            if scores is None:
                scores = np.zeros(self.chunks, dtype=np.float32)
            scores[rows] += weight * tf / (tf + norm)
        return scores

    def sentence_keys(self, row: int) -> Keys:
        """The distinct term keys of one sentence row."""
        o = self.sentence_terms_offsets
        return self.keys[self.sentence_terms[o[row] : o[row + 1]]]

    def chunk_counts(self, rows: npt.NDArray[np.int64]) -> tuple[Keys, npt.NDArray[np.int64]]:
        """Document frequencies that ``rows`` contribute: distinct keys and chunk counts."""
        o = self.chunk_terms_offsets
        parts = [self.chunk_terms[o[r] : o[r + 1]] for r in rows]
        if not parts:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        numbers, counts = np.unique(np.concatenate(parts), return_counts=True)
        return self.keys[numbers], counts.astype(np.int64)

    def all_counts(self) -> tuple[Keys, npt.NDArray[np.int64]]:
        """Document frequencies over every row: keys and chunk counts."""
        return np.asarray(self.keys), np.diff(self.postings_offsets).astype(np.int64)


@dataclass(frozen=True)
class CorpusStats:
    """Corpus-wide BM25 statistics over live chunks: N, total length, and each term's df."""

    chunks: int
    total_length: int
    keys: Keys  # sorted; terms with df 0 are dropped
    df: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> CorpusStats:
        """No chunks at all."""
        return cls(0, 0, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))

    @classmethod
    def of_texts(cls, texts: list[str]) -> CorpusStats:
        """The statistics of ``texts`` taken as chunks (for examples and tests)."""
        counter = TermCounter()
        counted = [counter.counts(text) for text in texts]
        every = [k for k, _ in counted]
        keys, df = (
            np.unique(np.concatenate(every), return_counts=True)
            if every
            else (cls.empty().keys, cls.empty().df)
        )
        length = sum(int(n.sum()) for _, n in counted)
        return cls(len(texts), length, keys.astype(np.uint64), df.astype(np.int64))

    def changed(
        self,
        chunks: int,
        length: int,
        keys: Keys,
        df: npt.NDArray[np.int64],
    ) -> CorpusStats:
        """These statistics with ``chunks`` chunks and their term counts added (or, with
        negative numbers, removed)."""
        every = np.concatenate([self.keys, keys])
        merged, where = np.unique(every, return_inverse=True)
        total = np.bincount(where, weights=np.concatenate([self.df, df]), minlength=len(merged))
        total = np.rint(total).astype(np.int64)
        if (total < 0).any():
            raise IndexCorruptError("document frequencies went below zero: rebuild the index")
        keep = total > 0
        return CorpusStats(
            self.chunks + chunks, self.total_length + length, merged[keep], total[keep]
        )

    def save(self, folder: Path) -> None:
        """Write ``stats_keys.npy``, ``stats_df.npy`` and ``stats.txt`` into ``folder``."""
        np.save(folder / "stats_keys.npy", self.keys)
        np.save(folder / "stats_df.npy", self.df)
        (folder / "stats.txt").write_text(f"{self.chunks} {self.total_length}\n")

    @classmethod
    def load(cls, folder: Path) -> CorpusStats:
        """Read what :meth:`save` wrote; a damaged file raises IndexCorruptError."""
        try:
            chunks, length = map(int, (folder / "stats.txt").read_text().split())
            # Read, not mapped: a replaced generation's files must not stay open.
            keys = np.load(folder / "stats_keys.npy")
            df = np.load(folder / "stats_df.npy")
        except (OSError, ValueError) as error:
            raise IndexCorruptError(
                f"the corpus statistics in {folder} cannot be read ({error}); rebuild with "
                "`citeqa index build`"
            ) from error
        return cls(chunks, length, keys, df)

    def digest(self) -> str:
        """A hash of these statistics (hex): equal statistics, equal hash, in any process."""
        hasher = hashlib.blake2b(digest_size=16)
        hasher.update(f"{self.chunks} {self.total_length}\n".encode())
        hasher.update(np.ascontiguousarray(self.keys, dtype="<u8").tobytes())
        hasher.update(np.ascontiguousarray(self.df, dtype="<i8").tobytes())
        return hasher.hexdigest()

    @property
    def average_length(self) -> float:
        """Average chunk length in content terms (1 when empty, to avoid dividing by 0)."""
        return self.total_length / self.chunks if self.chunks and self.total_length else 1.0

    def frequencies(self, keys: Keys) -> npt.NDArray[np.int64]:
        """Each key's document frequency (0 for terms no live chunk holds)."""
        if not len(self.keys):
            return np.zeros(len(keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.df[at], 0).astype(np.int64)

    def idf(self, keys: Keys) -> npt.NDArray[np.float64]:
        """BM25's (Lucene's) inverse document frequency of each key over the live chunks."""
        n = max(self.chunks, 1)
        df = self.frequencies(keys).astype(np.float64)
        return np.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def bm25_weights(self, query: str) -> tuple[Keys, npt.NDArray[np.float32]]:
        """The query's term keys that some live chunk holds (in query order, repeats kept),
        and their IDF: what :meth:`SegmentTerms.bm25` scores with."""
        keys = query_keys(query)
        keys = keys[self.frequencies(keys) > 0]  # terms no live chunk holds match nothing
        return keys, self.idf(keys).astype(np.float32)

    def unseen_idf(self) -> float:
        """The IDF of a term no chunk holds (the highest there is)."""
        return math.log(1.0 + (max(self.chunks, 1) + 0.5) / 0.5)


@dataclass(frozen=True)
class TermLists:
    """The distinct terms of consecutive rows (sentences or one chunk) of one segment:
    row ``i``'s term numbers are ``terms[offsets[i]:offsets[i + 1]]``."""

    segment: int
    offsets: npt.NDArray[np.int64]
    terms: npt.NDArray[np.int32]
