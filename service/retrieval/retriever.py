"""Retrieval: hybrid search, then sentence-level re-scoring, metadata filters, de-duplication.

Answers live in sentences, so a passage is scored by its own similarity to the question and
by its best sentence (dense cosine plus IDF-weighted term coverage;
:mod:`service.retrieval.rescoring`). Every step can be switched off, so the eval harness
can measure what each one buys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from datasketch import MinHash

from citeqa.types import Chunk, Document, Passage
from indexer.embedding import Vectors
from indexer.index import Index, LRUCache
from service.retrieval.dedup import group_near_duplicates, minhash
from service.retrieval.hybrid import HybridSearch, SearchMode
from service.retrieval.lexicon import Lexicon
from service.retrieval.paragraphs import join_paragraphs
from service.retrieval.rescoring import score_passages

DUPLICATE_JACCARD = 0.5
DUPLICATE_COSINE = 0.95
# MinHash signatures kept for de-duplication (about 1.2 KiB each).
_CACHED_SIGNATURES = 8192


@dataclass(frozen=True)
class Filters:
    sources: frozenset[str] = frozenset()
    published_from: date | None = None
    published_to: date | None = None

    def accepts(self, document: Document) -> bool:
        """True when the document matches every filter that is set."""
        if self.sources and (document.source or "").casefold() not in self.sources:
            return False
        if self.published_from or self.published_to:
            if not document.published:
                return False
            published = date.fromisoformat(document.published[:10])
            if self.published_from and published < self.published_from:
                return False
            if self.published_to and published > self.published_to:
                return False
        return True

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return bool(self.sources or self.published_from or self.published_to)


@dataclass(frozen=True)
class RetrievalOptions:
    mode: SearchMode = "hybrid"
    rescore: bool = True
    dedup: bool = True
    # With dedup: chunks of one paragraph that both rank become one passage.
    join_paragraphs: bool = True
    candidates: int = 40


class Retriever:
    """Retrieves passages from one loaded index (build a new one when the index changes)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.hybrid = HybridSearch(index)
        # Chunk and sentence term sets are read from the index: nothing is tokenised at start.
        self.lexicon = Lexicon(index.stats)
        # Bounded: a long-running server sees every chunk in time.
        self._signatures: LRUCache[str, MinHash] = LRUCache(_CACHED_SIGNATURES)

    def retrieve(
        self,
        question: str,
        query_vector: Vectors,
        top_k: int,
        filters: Filters | None = None,
        options: RetrievalOptions | None = None,
    ) -> list[Passage]:
        """The ``top_k`` best passages for the question, re-scored, filtered and de-duplicated."""
        options = options or RetrievalOptions()
        filters = filters or Filters()
        pool = options.candidates * (5 if filters.active else 1)
        hits = self.hybrid.search(
            question, k=pool, mode=options.mode, candidates=pool, query_vector=query_vector
        )
        if filters.active:
            hits = [h for h in hits if filters.accepts(self.index.documents[h.chunk.doc_id])]
        query = query_vector.reshape(-1)
        terms = self.lexicon.question(question)
        chunk_vectors = self.index.chunk_vectors([h.position for h in hits])
        passages = score_passages(
            self.index, self.lexicon, hits, query, terms, options.rescore, chunk_vectors
        )
        if options.rescore:
            passages.sort(key=lambda p: -p.score)
        if options.dedup:
            passages = self._collapse(passages, top_k)
            if options.join_paragraphs:
                passages = join_paragraphs(passages, top_k, lambda d: self.index.documents[d].text)
        return passages[:top_k]

    def _signature(self, chunk: Chunk) -> MinHash:
        return cached_signature(self._signatures, chunk)

    def _collapse(self, passages: list[Passage], top_k: int) -> list[Passage]:
        return collapse(
            passages,
            top_k,
            lambda window: self.index.chunk_vectors([p.hit.position for p in window]),
            self._signature,
        )


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
        [signature(p.chunk) for p in window], [p.chunk.text for p in window],
        DUPLICATE_JACCARD, similar, DUPLICATE_COSINE,
    )  # fmt: skip
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
