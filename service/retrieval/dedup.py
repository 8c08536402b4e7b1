"""Collapse near-identical passages (syndicated copies of one story): exact shingle overlap."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from citeqa.types import Passage
from indexer.embedding import Vectors

_WORD = re.compile(r"\w+")
SHINGLE = 3
DUPLICATE_JACCARD = 0.5
DUPLICATE_COSINE = 0.95
# A word's number in a shingle's key: 21 bits each, three to a 63-bit key.
_WORD_BITS = 21


def shingle_keys(texts: Sequence[str]) -> list[npt.NDArray[np.int64]]:
    """Each text's word 3-shingles (lower-cased), as numbers equal where the shingles are.

    The numbers hold for one call: words are numbered as they are met. A text shorter than
    a shingle is one shingle of its words.
    """
    numbers: dict[str, int] = {}
    keys = []
    for text in texts:
        words = _WORD.findall(text.lower())
        # 0 pads a text shorter than a shingle, so words are numbered from 1.
        ids = [numbers.setdefault(word, len(numbers) + 1) for word in words]
        ids = [0] * (SHINGLE - len(ids)) + ids if len(ids) < SHINGLE else ids
        at = np.array(ids, dtype=np.int64)
        if at.max(initial=0) >= 1 << _WORD_BITS:
            raise ValueError("too many distinct words to compare in one call")
        count = len(at) - SHINGLE + 1
        key = np.zeros(count, dtype=np.int64)
        for offset in range(SHINGLE):
            key = (key << _WORD_BITS) | at[offset : offset + count]
        keys.append(key)
    return keys


def jaccard_matrix(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """The exact Jaccard similarity of every two texts' shingle sets.

    A window holds a few dozen passages, so exact overlap costs less than estimating it
    with MinHash signatures, which would also need a cache to be fast at a million chunks.

    >>> jaccard_matrix(["the cat sat on the mat", "the cat sat on a mat", "dogs bark"]).round(2)
    array([[1.  , 0.33, 0.  ],
           [0.33, 1.  , 0.  ],
           [0.  , 0.  , 1.  ]])
    """
    keys = shingle_keys(texts)
    if not keys:
        return np.zeros((0, 0))
    _, column = np.unique(np.concatenate(keys), return_inverse=True)
    rows = np.repeat(np.arange(len(keys)), [len(k) for k in keys])
    incidence = np.zeros((len(keys), int(column.max()) + 1), dtype=np.float32)
    incidence[rows, column] = 1.0  # a shingle met twice in a text is counted once
    shared = (incidence @ incidence.T).astype(np.float64)  # exact: counts below 2**24
    sizes = np.diag(shared)
    union = sizes[:, None] + sizes[None, :] - shared
    return np.divide(shared, union, out=np.ones_like(shared), where=union > 0)


_FACT = re.compile(r"\w*\d\w*|[A-Z][\w’'-]+")


def facts(text: str) -> frozenset[str]:
    """Numbers and capitalised words: what two copies of one story must agree on."""
    return frozenset(_FACT.findall(text))


def group_near_duplicates(
    texts: Sequence[str],
    threshold: float,
    similar: Sequence[Sequence[float]] | None = None,
    similar_threshold: float = 1.01,
) -> list[int]:
    """For each passage, the index of the earlier (better-ranked) one it duplicates, or itself.

    Two passages are duplicates when the Jaccard similarity of their word shingles reaches
    ``threshold`` or, if given, their vector similarity reaches ``similar_threshold``, and
    they state the same facts (numbers, capitalised names) of their ``texts``.
    """
    leader = list(range(len(texts)))
    # Facts are read only for pairs of near-copies, which are few: reading them for every
    # passage was a fifth of a query's retrieval time on the NYT dev index.
    found: dict[int, frozenset[str]] = {}

    def facts_of(at: int) -> frozenset[str]:
        if at not in found:
            found[at] = facts(texts[at])
        return found[at]

    if not texts:
        return leader
    jaccard = jaccard_matrix(texts).tolist()
    for i in range(len(texts)):
        for j in range(i):
            if leader[j] != j:
                continue
            # A copy that changes only a figure or a name is a disagreement, not a duplicate:
            # both stay visible. A rewrite of the same story (low word overlap, same meaning)
            # is collapsed whatever its wording.
            copy = jaccard[i][j] >= threshold
            rewrite = similar is not None and similar[i][j] >= similar_threshold
            if (copy and facts_of(i) == facts_of(j)) or (rewrite and not copy):
                leader[i] = j
                break
    return leader


def collapse(
    passages: list[Passage],
    top_k: int,
    vectors_of: Callable[[list[Passage]], Vectors],
) -> list[Passage]:
    """Keep the best of each group of near-identical passages; list the rest with it.

    ``vectors_of`` gives the chunk vectors of a list of passages.
    """
    window = passages[: max(top_k * 3, 10)]
    if len(window) < 2:
        return passages
    vectors = vectors_of(window)
    similar = (vectors @ vectors.T).tolist()
    leaders = group_near_duplicates(
        [p.chunk.text for p in window],
        DUPLICATE_JACCARD,
        similar,
        DUPLICATE_COSINE,
    )
    followers: dict[int, list[Passage]] = {}
    for i, leader in enumerate(leaders):
        if leader != i:
            followers.setdefault(leader, []).append(window[i])
    kept = [
        replace(passage, duplicates=tuple(followers[i])) if i in followers else passage
        for i, passage in enumerate(window)
        if leaders[i] == i
    ]
    return kept + passages[len(window) :]
