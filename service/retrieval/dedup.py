"""Collapse near-identical passages (syndicated copies of one story) with MinHash."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np
from datasketch import MinHash

from citeqa.types import Chunk, Passage
from indexer.embedding import Vectors
from indexer.index import LRUCache

_WORD = re.compile(r"\w+")
NUM_PERM = 64
SHINGLE = 3
DUPLICATE_JACCARD = 0.5
DUPLICATE_COSINE = 0.95


@lru_cache(maxsize=1)
def _permutations() -> Any:
    # Drawn once: datasketch draws them again for every signature otherwise (about 0.15 ms,
    # as much as hashing the text).
    drawn = MinHash(num_perm=NUM_PERM, seed=7)
    return drawn.permutations, drawn.scheme


def minhash(text: str) -> MinHash:
    """MinHash signature of a text's word shingles."""
    words = _WORD.findall(text.lower())
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    permutations, scheme = _permutations()
    signature = MinHash(num_perm=NUM_PERM, seed=7, permutations=permutations, scheme=scheme)
    signature.update_batch([s.encode("utf-8") for s in shingles])  # vectorised, not a loop
    return signature


_FACT = re.compile(r"\w*\d\w*|[A-Z][\w’'-]+")


def facts(text: str) -> frozenset[str]:
    """Numbers and capitalised words: what two copies of one story must agree on."""
    return frozenset(_FACT.findall(text))


def group_near_duplicates(
    signatures: Sequence[MinHash],
    texts: Sequence[str],
    threshold: float,
    similar: Sequence[Sequence[float]] | None = None,
    similar_threshold: float = 1.01,
) -> list[int]:
    """For each passage, the index of the earlier (better-ranked) one it duplicates, or itself.

    Two passages are duplicates when their word-shingle Jaccard estimate reaches
    ``threshold`` or, if given, their vector similarity reaches ``similar_threshold``, and
    they state the same facts (numbers, capitalised names) of their ``texts``.
    """
    leader = list(range(len(signatures)))
    # Facts are read only for pairs of near-copies, which are few: reading them for every
    # passage was a fifth of a query's retrieval time on the NYT dev index.
    found: dict[int, frozenset[str]] = {}

    def facts_of(at: int) -> frozenset[str]:
        if at not in found:
            found[at] = facts(texts[at])
        return found[at]

    if not signatures:
        return leader
    # MinHash.jaccard for every pair at once: the share of equal hash values.
    hashes = np.stack([signature.hashvalues for signature in signatures])
    jaccard = (hashes[:, None, :] == hashes[None, :, :]).mean(axis=2).tolist()
    for i in range(len(signatures)):
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


def cached_signature(cache: LRUCache[str, MinHash], chunk: Chunk) -> MinHash:
    """A chunk's MinHash signature, computed on first use and kept in ``cache``: start-up
    stays fast on large corpora."""
    signature = cache.get(chunk.chunk_id)
    if signature is None:
        signature = minhash(chunk.text)
        cache.put(chunk.chunk_id, signature)
    return signature


def collapse(
    passages: list[Passage],
    top_k: int,
    vectors_of: Callable[[list[Passage]], Vectors],
    signature: Callable[[Chunk], MinHash],
) -> list[Passage]:
    """Keep the best of each group of near-identical passages; list the rest with it.

    ``vectors_of`` gives the chunk vectors of a list of passages, ``signature`` a chunk's
    MinHash signature.
    """
    window = passages[: max(top_k * 3, 10)]
    if len(window) < 2:
        return passages
    vectors = vectors_of(window)
    similar = (vectors @ vectors.T).tolist()
    leaders = group_near_duplicates(
        [signature(p.chunk) for p in window],
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
