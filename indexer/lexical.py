"""BM25 over chunk texts with bm25s.

Chunks and queries are tokenised by one function, :func:`citeqa.text.content_terms`
(lower-cased words, stop words removed, Snowball-stemmed), the one the re-scoring and the
answer extractor use too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt

from citeqa.text import content_terms
from indexer.errors import IndexCorruptError

# bm25s logs every save and load at INFO; that is noise in a service log.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    """A BM25 index whose document numbers are chunk positions."""

    def __init__(self, retriever: bm25s.BM25, size: int, has_terms: bool = True) -> None:
        self._retriever = retriever
        self.size = size
        # False when no chunk has a single term left after stop words ("It is."): valid
        # text, but bm25s cannot index an empty vocabulary, and nothing can match anyway.
        self.has_terms = has_terms and size > 0

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        """Index ``texts`` (one per chunk, in chunk order) with BM25 over content terms."""
        retriever = bm25s.BM25()
        if not texts:
            return cls(retriever, 0)
        terms = [content_terms(text) for text in texts]
        if not any(terms):
            return cls(retriever, len(texts), has_terms=False)
        retriever.index(terms, show_progress=False)
        return cls(retriever, len(texts))

    def save(self, folder: Path) -> None:
        """Write the index into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        # "0 chunks" or "N chunks, no terms" need no bm25s files.
        (folder / "size.txt").write_text(str(self.size) if self.has_terms else f"{self.size} 0")
        if self.has_terms:
            self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read an index written by :meth:`save`; a damaged folder raises IndexCorruptError."""
        try:
            size_text, *no_terms = (folder / "size.txt").read_text().split()
            size, has_terms = int(size_text), not no_terms
            retriever = (
                bm25s.BM25.load(str(folder), show_progress=False)
                if size and has_terms
                else bm25s.BM25()
            )
        except (OSError, ValueError, KeyError) as error:
            raise IndexCorruptError(
                f"BM25 index in {folder} cannot be read ({error}); rebuild with "
                "`citeqa index build`"
            ) from error
        if size and has_terms and int(retriever.scores["num_docs"]) != size:
            raise IndexCorruptError(
                f"BM25 index in {folder} holds {retriever.scores['num_docs']} chunks, "
                f"expected {size}; rebuild with `citeqa index build`"
            )
        return cls(retriever, size, has_terms)

    def search(self, query: str, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Top ``k`` chunk positions with positive BM25 scores, best first."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if not self.has_terms or k <= 0:
            return empty
        vocab = self._retriever.vocab_dict
        known = [t for t in content_terms(query) if t in vocab]
        if not known:
            return empty
        ids, scores = self._retriever.retrieve(
            [known], k=min(k, self.size), show_progress=False, n_threads=1
        )
        keep = scores[0] > 0
        return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
