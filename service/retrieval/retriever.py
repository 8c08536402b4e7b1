"""Retrieval: hybrid search, then sentence-level re-scoring, metadata filters, de-duplication.

Answers live in sentences, so a passage is scored by its own similarity to the question and
by its best sentence (dense cosine plus IDF-weighted term coverage). Every step can be
switched off, so the eval harness can measure what each one buys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from datasketch import MinHash

from citeqa.types import Chunk, Document, Hit, Passage, ScoredSentence
from indexer.embedding import Vectors
from indexer.index import Index, LRUCache, TermLists
from service.retrieval.dedup import facts, group_near_duplicates, minhash
from service.retrieval.hybrid import HybridSearch, SearchMode
from service.retrieval.lexicon import Lexicon, QuestionTerms
from service.retrieval.overlap import join_overlaps

SENTENCE_DENSE_WEIGHT = 0.6
PASSAGE_DENSE_WEIGHT = 0.45
PASSAGE_SENTENCE_WEIGHT = 0.35
PASSAGE_LEXICAL_WEIGHT = 0.2
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
    # With dedup: overlapping chunks of one document that both rank become one passage.
    join_overlaps: bool = True
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
            if options.join_overlaps:
                passages = join_overlaps(passages, top_k, lambda d: self.index.documents[d].text)
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


def score_passages(
    index: Index,
    lexicon: Lexicon,
    hits: Sequence[Hit],
    query: Vectors,
    terms: QuestionTerms,
    rescore: bool,
    vectors: Vectors,
) -> list[Passage]:
    """Hits as passages: their sentences scored, and (with ``rescore``) their own scores.

    Reads the chunks' sentences, their vectors and terms: the work done where the chunks
    live (a shard, in :mod:`service.retrieval.shard`). Term coverage is computed for all
    the hits' sentences (and chunks) of a segment in one step; each row's sum is the same
    float as alone, so the scores do not depend on which hits are scored together.
    """
    blocks = [index.chunk_sentences(hit.position) for hit in hits]
    lexical = _coverages(lexicon, terms, index, [block.terms for block in blocks])
    chunk_lexical: list[list[float]] = []
    if rescore:
        chunk_terms = [index.chunk_terms(hit.position) for hit in hits]
        chunk_lexical = _coverages(lexicon, terms, index, chunk_terms)
    texts = index.documents.many([hit.chunk.doc_id for hit in hits])
    passages = []
    for i, (hit, block) in enumerate(zip(hits, blocks, strict=True)):
        text = texts[hit.chunk.doc_id].text
        dense = (block.vectors @ query).tolist()
        sentences = []
        for j, (start, end) in enumerate(
            zip(block.starts.tolist(), block.ends.tolist(), strict=True)
        ):
            score = SENTENCE_DENSE_WEIGHT * dense[j] + (1 - SENTENCE_DENSE_WEIGHT) * lexical[i][j]
            sentences.append(
                ScoredSentence(
                    block.first + j,
                    hit.chunk.doc_id,
                    start,
                    end,
                    text[start:end],
                    dense[j],
                    lexical[i][j],
                    score,
                )
            )
        sentences.sort(key=lambda s: -s.score)
        if not rescore:
            passages.append(Passage(hit, hit.score, tuple(sentences)))
            continue
        chunk_dense = float(vectors[i] @ query)
        best = sentences[0].score if sentences else 0.0
        score = (
            PASSAGE_DENSE_WEIGHT * chunk_dense
            + PASSAGE_SENTENCE_WEIGHT * best
            + PASSAGE_LEXICAL_WEIGHT * chunk_lexical[i][0]
        )
        passages.append(Passage(hit, score, tuple(sentences)))
    return passages


def _coverages(
    lexicon: Lexicon, terms: QuestionTerms, index: Index, lists: Sequence[TermLists]
) -> list[list[float]]:
    """:meth:`Lexicon.coverages` of each list's rows, one call per segment."""
    out: list[list[float]] = [[] for _ in lists]
    by_segment: dict[int, list[int]] = {}
    for i, found in enumerate(lists):
        by_segment.setdefault(found.segment, []).append(i)
    for segment, members in by_segment.items():
        parts = [lists[i] for i in members]
        rows = [len(part.offsets) - 1 for part in parts]
        starts = np.cumsum([0, *(len(part.terms) for part in parts)])
        joined = TermLists(
            segment,
            np.concatenate(
                [part.offsets[:-1] + start for part, start in zip(parts, starts, strict=False)]
                + [starts[-1:]]
            ).astype(np.int64),
            np.concatenate([part.terms for part in parts]).astype(np.int32, copy=False),
        )
        scores = lexicon.coverages(terms, joined, index.segments[segment].terms).tolist()
        at = 0
        for i, count in zip(members, rows, strict=True):
            out[i] = scores[at : at + count]
            at += count
    return out


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
        [signature(p.chunk) for p in window], [facts(p.chunk.text) for p in window],
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
