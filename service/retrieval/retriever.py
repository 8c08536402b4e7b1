"""Retrieval: hybrid search, sentence re-scoring, metadata filters, de-duplication.

One pipeline, whether the generation is open in this process or spread over shards: a
generation opened whole is one shard of one (:class:`~service.retrieval.shard.ShardSearcher`
over it), so :class:`Retriever` does the same steps for one process and for S shards:

1. every shard returns its dense and BM25 top ``W`` (:meth:`ShardSearcher.search`); since
   each shard scores with the generation's corpus-wide statistics, a chunk has the same
   score in a shard as in one process;
2. each retriever's lists merge to the global top ``W`` (:func:`merge_ranked`) and are fused
   by reciprocal rank (:func:`fuse`), the one fusion every path uses;
3. each candidate is filtered and re-scored by the shard that holds it (sentences by dense
   cosine and term coverage, :mod:`service.retrieval.rescoring`), which answers in
   numbers; the passages are made here, from this process's copy of the generation when it
   has one, or else from the chunks and texts the shards send;
4. the passages are sorted, near copies collapsed (:mod:`service.retrieval.dedup`) and the
   chunks of one paragraph joined (:mod:`service.retrieval.dedup`).

Answers live in sentences, so step 3 scores a passage by its own similarity and by its best
sentence. Every step can be switched off (:class:`RetrievalOptions`), so the eval harness
can measure what each one buys.

When the generation is open here and the shards are not, step 3 rides on step 1: each
shard re-scores its likeliest candidates with its lists
(:class:`~service.retrieval.shard.EarlyScores`), and only the candidates a shard did not
send are asked for in a second round trip. Shards in this process are simply called
twice. The passages are the same either way.

Shards are called through :class:`~service.retrieval.shard.ShardClient`: a
:class:`ShardSearcher` in this process satisfies it, and so does a thin wrapper around a
remote handle (a Ray Serve deployment). Each call is submitted to every shard before any
answer is awaited, so remote shards work side by side without a thread per call. A shard
that fails or cannot be reached fails the query with :class:`ShardUnavailableError` naming
it (HTTP 503): never a partial answer.

Example (needs a built index and the embedding model, so not run as a doctest)::

    retriever = Retriever(load_index(Path("data/index")))  # or Retriever(index, shards=...)
    vector = embedder.encode_query(question)
    passages = retriever.retrieve(question, vector, top_k=5)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

import numpy as np

from citeqa.types import Passage
from indexer.embedding import Vectors
from indexer.index import Index
from indexer.shards import shard_of
from service.errors import ShardError, ShardGenerationError, ShardUnavailableError
from service.retrieval.dedup import collapse, join_paragraphs
from service.retrieval.hybrid import FusedChunk, SearchMode, fuse, merge_ranked
from service.retrieval.rescoring import PassageScores, passages_of, read_passages
from service.retrieval.shard import (
    EarlyScores,
    Filters,
    Pending,
    ScoredCandidates,
    ScoreRequest,
    SearchRequest,
    ShardClient,
    ShardInfo,
    ShardSearcher,
)

__all__ = ["Filters", "RetrievalOptions", "Retriever"]

T = TypeVar("T")
# Each shard re-scores ceil(EARLY_FACTOR * W / sqrt(S)) of its likeliest candidates with
# its top lists (``EarlyScores``; W candidates in all, S shards), so that a query needs one
# round trip per shard, not two; the candidates a shard did not re-score are asked for in a
# second round. The square root: a document's chunks share a shard, so a shard's part of
# the merge's candidates runs above W / S, more so as S grows. The factor covers the early
# candidates 99% of queries need (eval/bench/early_coverage.py, docs/scale-out.md).
EARLY_FACTOR = 1.25


@dataclass(frozen=True)
class RetrievalOptions:
    mode: SearchMode = "hybrid"
    rescore: bool = True
    dedup: bool = True
    # With dedup: chunks of one paragraph that both rank become one passage.
    join_paragraphs: bool = True
    candidates: int = 40


class Retriever:
    """Retrieves passages from one generation, pinned when it is made (build a new one
    when the index changes).

    ``index`` is the generation open in this process. Without ``shards`` it is searched
    here, as one shard. ``shards`` holds one client per shard of the generation, in any
    order; with ``index`` too (the Ray ingress has it open for reading answers), the shards
    send their re-scoring as numbers only (``ScoreRequest.flat``), and chunks, sentence and
    document texts, and chunk vectors for de-duplication are read from ``index`` instead of
    sent back by, or asked of, the shards. The values are the same bytes.

    Raises:
        ShardUnavailableError: a shard does not answer.
        ShardGenerationError: the shards serve different generations (a switch under way).
    """

    def __init__(
        self,
        index: Index | None = None,
        *,
        shards: Sequence[ShardClient] = (),
        early_factor: float | None = None,
    ) -> None:
        if not shards:
            if index is None:
                raise ValueError("a retriever needs an index, shards, or both")
            shards = [ShardSearcher(index)]
        self._clients = list(shards)
        infos = [_named(at, self._clients[at].describe) for at in range(len(shards))]
        order = sorted(range(len(infos)), key=lambda at: infos[at].shard)
        self.shards = [self._clients[at] for at in order]
        self.infos = [infos[at] for at in order]
        self._check(self.infos)
        self.generation = self.infos[0].generation
        self.count = len(self.shards)
        if index is not None and index.manifest.generation != self.generation:
            raise ValueError("the index must be of the shards' generation")
        self.local = index
        # Early scores save a round trip to a shard in another process; in this one a second
        # call costs nothing, and the shard's own fusion would be work done twice.
        in_process = all(isinstance(shard, ShardSearcher) for shard in self.shards)
        default = 0.0 if in_process else EARLY_FACTOR
        self.early_factor = default if early_factor is None else early_factor
        # Queries, and those that needed a second round trip (a candidate not re-scored early).
        self.queries = 0
        self.second_rounds = 0

    @property
    def index(self) -> Index:
        """The generation open here, which answers are read from and cited in."""
        if self.local is None:
            raise ValueError("this retriever was made with shards only, without the index")
        return self.local

    @staticmethod
    def _check(infos: list[ShardInfo]) -> None:
        count = infos[0].shards
        if [i.shard for i in infos] != list(range(count)) or any(i.shards != count for i in infos):
            raise ValueError(
                f"the index has {count} shards, the retriever was given shards "
                f"{[i.shard for i in infos]}: give it one of each"
            )
        for info in infos[1:]:
            if (info.generation, info.stats_hash) != (infos[0].generation, infos[0].stats_hash):
                raise ShardGenerationError(
                    f"shard {info.shard} serves generation {info.generation}, shard 0 serves "
                    f"{infos[0].generation}; retry once every shard has switched",
                    shard=info.shard,
                )

    def early_count(self, pool: int) -> int:
        """How many candidates each shard re-scores with its lists, for a pool of ``pool``.

        Only with the generation open here: early answers are numbers only (flat). By
        default (``early_factor`` None) only for shards in other processes.
        """
        if self.local is None or self.early_factor <= 0:
            return 0
        return min(pool, math.ceil(self.early_factor * pool / math.sqrt(self.count)))

    def _fan_out(self, shards: Iterable[int], submit: Callable[[int], Pending[T]]) -> list[T]:
        """``submit`` to each shard, then each answer in turn (see :meth:`_call` for failures).

        Every call is under way before the first answer is awaited, so remote shards work
        side by side with no thread per call; for shards in this process a submit does the
        work and ``result()`` hands it over.
        """
        numbers = list(shards)
        pending = [self._call(shard, partial(submit, shard)) for shard in numbers]
        return [
            self._call(shard, call.result) for shard, call in zip(numbers, pending, strict=True)
        ]

    def _call(self, shard: int, call: Callable[[], T]) -> T:
        """``call()`` to shard ``shard``: a failure of a shard in this process is the
        query's own error, as raised; any other is :func:`_named`'s."""
        if isinstance(self.shards[shard], ShardSearcher):
            return call()
        return _named(shard, call)

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
        if pool <= 0:
            raise ValueError("k must be greater than 0")
        request = SearchRequest(
            self.generation,
            question,
            query_vector,
            pool,
            options.mode,
            early=self.early_count(pool),
            filters=filters,
            rescore=options.rescore,
        )
        lists = self._fan_out(range(self.count), lambda at: self.shards[at].submit_search(request))
        owner = {
            position: found.shard
            for found in lists
            for ranked in (found.dense, found.bm25)
            for position in ranked.positions.tolist()
        }
        dense = merge_ranked((found.dense.unpack() for found in lists), pool)
        lexical = merge_ranked((found.bm25.unpack() for found in lists), pool)
        candidates = fuse(dense, lexical)[:pool]
        early = {found.shard: found.early for found in lists if found.early is not None}
        passages, vectors = self._score(request, candidates, owner, early)
        if options.rescore:
            passages.sort(key=lambda p: -p.score)
        if options.dedup:
            passages = collapse(passages, top_k, partial(self._vectors, vectors))
            if options.join_paragraphs:
                passages = join_paragraphs(passages, top_k, self._document_text)
        return passages[:top_k]

    def _score(
        self,
        request: SearchRequest,
        candidates: list[FusedChunk],
        owner: dict[int, int],
        early: dict[int, EarlyScores],
    ) -> tuple[list[Passage], dict[int, Vectors]]:
        """The candidates the filters kept, re-scored by their shards, in the fused order;
        and their chunk vectors by position, when the shards sent them. ``request`` is the
        query's search, whose question, vector, filters and ``rescore`` the scoring uses.

        A candidate a shard re-scored with its lists (``early``) is taken from there; the
        rest are sent to their shards now, in one more round trip.
        """
        out: list[Passage | None] = [None] * len(candidates)
        slots: dict[int, list[int]] = {}
        for at, candidate in enumerate(candidates):
            slots.setdefault(owner[candidate.position], []).append(at)
        missing: dict[int, list[int]] = {}
        taken: list[int] = []
        parts: list[PassageScores] = []
        for shard, ats in slots.items():
            sent = early.get(shard)
            rows = sent.rows() if sent is not None else {}
            left = [at for at in ats if candidates[at].position not in rows]
            if left:
                missing[shard] = left
            if sent is not None and len(left) < len(ats):
                kept = [at for at in ats if rows.get(candidates[at].position, -1) >= 0]
                taken += kept
                found = [rows[candidates[at].position] for at in kept]
                parts.append(sent.answer.passages.take(found))
        if taken:  # one read for every shard's part: one store query, not one a shard
            self._take_early(candidates, taken, PassageScores.concat(parts), request.rescore, out)
        self.queries += 1
        self.second_rounds += bool(missing)
        vectors = self._score_missing(request, candidates, missing, out)
        return [passage for passage in out if passage is not None], vectors

    def _score_missing(
        self,
        request: SearchRequest,
        candidates: list[FusedChunk],
        missing: dict[int, list[int]],
        out: list[Passage | None],
    ) -> dict[int, Vectors]:
        """Send each shard its candidates ``missing[shard]`` to re-score, and fill ``out``
        with those kept; their chunk vectors by position, when the shards sent them."""
        shards = sorted(missing)

        def ask(shard: int) -> Pending[ScoredCandidates]:
            if request.query_vector is None:
                raise ValueError("re-scoring needs a query vector")
            mine = tuple(candidates[at] for at in missing[shard])
            score = ScoreRequest(
                self.generation,
                request.question,
                request.query_vector,
                mine,
                request.filters,
                request.rescore,
                flat=self.local is not None,
            )
            return self.shards[shard].submit_score(score)

        answers = self._fan_out(shards, ask)
        vectors: dict[int, Vectors] = {}
        for shard, answer in zip(shards, answers, strict=True):
            if len(answer.kept) != len(missing[shard]):
                raise ShardUnavailableError(
                    f"shard {shard} scored {len(answer.kept)} of {len(missing[shard])} candidates",
                    shard=shard,
                )
            kept = [
                at for at, keep in zip(missing[shard], answer.kept.tolist(), strict=True) if keep
            ]
            passages = self._passages([candidates[at] for at in kept], answer)
            for at, passage in zip(kept, passages, strict=True):
                out[at] = passage
            if answer.vectors is not None:
                for at, vector in zip(kept, answer.vectors, strict=True):
                    vectors[candidates[at].position] = vector
        return vectors

    def _take_early(
        self,
        candidates: list[FusedChunk],
        kept: list[int],
        scores: PassageScores,
        rescore: bool,
        out: list[Passage | None],
    ) -> None:
        """Fill ``out[at]`` for the candidates ``kept``, re-scored early as ``scores``."""
        if not rescore:  # a passage keeps its fused score, the global one
            fused = np.array([candidates[at].score for at in kept], dtype=np.float64)
            scores = replace(scores, scores=fused)
        passages = self._read([candidates[at] for at in kept], scores)
        for at, passage in zip(kept, passages, strict=True):
            out[at] = passage

    def _passages(self, kept: list[FusedChunk], answer: ScoredCandidates) -> list[Passage]:
        """The kept candidates as passages: the shard's numbers, with chunks and texts read
        from the local generation, or as the shard sent them."""
        if self.local is None:
            hits = [c.hit(chunk) for c, chunk in zip(kept, answer.chunks, strict=True)]
            return passages_of(hits, answer.passages, answer.texts)
        return self._read(kept, answer.passages)

    def _read(self, kept: list[FusedChunk], scores: PassageScores) -> list[Passage]:
        """Passages of ``kept`` from their numbers, chunks and texts read from the local
        generation."""
        if self.local is None:
            raise ValueError("reading passages needs the generation open here")
        chunks = self.local.chunks.many([c.position for c in kept])
        hits = [c.hit(chunk) for c, chunk in zip(kept, chunks, strict=True)]
        return read_passages(self.local, hits, scores)

    def _vectors(self, sent: dict[int, Vectors], window: list[Passage]) -> Vectors:
        """The chunk vectors of ``window``: read here, or as the shards sent them."""
        if self.local is not None:
            return self.local.chunk_vectors([p.hit.position for p in window])
        return np.stack([sent[p.hit.position] for p in window])

    def _document_text(self, doc_id: str) -> str:
        if self.local is not None:
            return self.local.documents[doc_id].text
        shard = shard_of(doc_id, self.count)
        return self._call(shard, partial(self.shards[shard].document_text, self.generation, doc_id))


def _named(shard: int, call: Callable[[], T]) -> T:
    """``call()``, its failure turned into a :class:`ShardUnavailableError` naming ``shard``
    (a shard's own :class:`ShardError` already names it)."""
    try:
        return call()
    except ShardError:
        raise
    except Exception as error:
        raise ShardUnavailableError(
            f"shard {shard} did not answer ({type(error).__name__}: {error}); the query "
            "fails rather than answer from part of the corpus",
            shard=shard,
        ) from error
