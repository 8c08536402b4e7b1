"""Consecutive rows of one segment, read in one go: what a query reads for one chunk.

:meth:`indexer.index.Index.chunk_sentences` hands the sentences that overlap a chunk (their
offsets, vectors and terms) as one :class:`SentenceBlock`, and
:meth:`indexer.index.Index.chunk_terms` a chunk's distinct terms as :class:`TermLists`,
so a query reads them in one go, not a row at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.embedding import Vectors


@dataclass(frozen=True)
class TermLists:
    """The distinct terms of consecutive rows (sentences or one chunk) of one segment:
    row ``i``'s term numbers are ``terms[offsets[i]:offsets[i + 1]]``."""

    segment: int
    offsets: npt.NDArray[np.int64]
    terms: npt.NDArray[np.int32]


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
