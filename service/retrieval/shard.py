"""One shard's part of a query: its top lists, and re-scoring the candidates it holds.

A :class:`ShardSearcher` opens one generation restricted to one shard's segments, with the
generation's corpus-wide statistics (:mod:`indexer.shards`), and answers three requests;
every request and answer is a frozen dataclass of numbers, strings and arrays, so it can
cross a process boundary (a Ray Serve deployment per shard, say) as it is:

- :meth:`ShardSearcher.search`: the shard's dense and BM25 top ``k``, by the generation's
  chunk positions (the same in every process that loads it), as arrays
  (:class:`RankedChunks`), and if asked, the re-scoring of its likeliest candidates
  (:class:`EarlyScores`), to save the retriever a second round trip;
- :meth:`ShardSearcher.score`: for candidates it holds, the metadata filter and the
  sentence re-scoring (sentence vectors and terms live here), as arrays of numbers
  (:class:`~service.retrieval.rescoring.PassageScores`). A caller with the generation
  open itself (``ScoreRequest.flat``; the Ray ingress) gets nothing else and rebuilds the
  passages from its copy; any other caller also gets the chunks, the sentences' texts and
  the chunk vectors that de-duplication compares;
- :meth:`ShardSearcher.document_text`: a document's text, to join chunks of one paragraph.

Each request names the generation it was planned on; a shard serving another refuses it
(:class:`service.errors.ShardGenerationError`), so no query mixes two manifests. A whole
generation opened in one process is one shard of one. The caller is
:class:`service.retrieval.retriever.Retriever`, through :class:`ShardClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Document
from indexer.embedding import Embedder, Vectors
from indexer.generations import current_generation
from indexer.index import Index, load_index
from indexer.manifest import Manifest
from service.errors import ShardGenerationError
from service.retrieval.hybrid import RRF_K, FusedChunk, RankedChunk, SearchMode, fuse, ranked_lists
from service.retrieval.rescoring import Lexicon, PassageScores, score_hits, sentence_texts

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
# The fusion constant a shard orders its likeliest candidates by (local_candidates). A small
# k puts a chunk that is high in either list first, which is what the merge will keep: it
# needs fewer early candidates than the global k scaled to a shard (measured with
# eval/bench/early_coverage.py; docs/scale-out.md).
LOCAL_RRF_K = 1.0


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
class ShardInfo:
    """Which shard a searcher serves, of which generation."""

    shard: int
    shards: int
    generation: int
    stats_hash: str | None


@dataclass(frozen=True)
class SearchRequest:
    generation: int
    question: str
    query_vector: Vectors | None  # needed by dense and hybrid search
    k: int
    mode: SearchMode = "hybrid"
    # Re-score this many of the shard's own best candidates with the lists (0: none), with
    # these filters and ``rescore``: see :class:`EarlyScores`. The retriever asks for it
    # when it has the generation open itself (the answer is then numbers only).
    early: int = 0
    filters: Filters = field(default_factory=Filters)
    rescore: bool = True


@dataclass(frozen=True)
class RankedChunks:
    """One retriever's top ``k`` in a shard, best first, as columns: chunk positions,
    scores, and the (document id, chunk index) that break score ties. Arrays, not a
    :class:`RankedChunk` each: a shard's answer is pickled, and objects cost more to move
    than the numbers they hold."""

    positions: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]  # the retrievers' Python floats, exactly
    doc_ids: tuple[str, ...]
    indexes: npt.NDArray[np.int64]

    @classmethod
    def of(cls, ranked: Sequence[RankedChunk]) -> RankedChunks:
        """Columns of ``ranked``."""
        return cls(
            np.array([r.position for r in ranked], dtype=np.int64),
            np.array([r.score for r in ranked], dtype=np.float64),
            tuple(r.doc_id for r in ranked),
            np.array([r.index for r in ranked], dtype=np.int64),
        )

    def unpack(self) -> list[RankedChunk]:
        """One :class:`RankedChunk` a row, best first."""
        return [
            RankedChunk(position, score, doc_id, index)
            for position, score, doc_id, index in zip(
                self.positions.tolist(),
                self.scores.tolist(),
                self.doc_ids,
                self.indexes.tolist(),
                strict=True,
            )
        ]

    def __len__(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class ShardLists:
    """A shard's top ``k`` of each retriever, best first, and the re-scoring of its likely
    candidates when the request asked for it (``SearchRequest.early``)."""

    shard: int
    dense: RankedChunks
    bm25: RankedChunks
    early: EarlyScores | None = None


@dataclass(frozen=True)
class ScoreRequest:
    generation: int
    question: str
    query_vector: Vectors
    candidates: tuple[FusedChunk, ...]
    filters: Filters
    rescore: bool
    # True when the caller has the generation open itself (the Ray ingress does): the
    # answer is then numbers only, and the caller reads chunks, texts and vectors from its
    # copy. Passage objects and their texts were most of an answer's bytes.
    flat: bool = False


@dataclass(frozen=True)
class ScoredCandidates:
    """A shard's answer to a :class:`ScoreRequest`.

    ``kept[i]`` says whether the filters kept candidate ``i`` (in the order sent); every
    other field is about the kept candidates only, in that order: ``passages``, their
    re-scoring as numbers, and unless the request was ``flat``, their ``chunks``, the
    ``texts`` of ``passages``' sentences (in its order) and their chunk ``vectors``.
    """

    kept: npt.NDArray[np.bool_]
    passages: PassageScores
    chunks: tuple[Chunk, ...] = ()
    texts: tuple[str, ...] = ()
    vectors: Vectors | None = None


@dataclass(frozen=True)
class EarlyScores:
    """A shard's re-scoring of its likely candidates, sent with its top lists.

    Which of a shard's chunks the retriever re-scores depends on every shard's lists
    (the merge and the fusion), so re-scoring would cost a second round trip to every
    shard. Instead each shard re-scores its own best ``SearchRequest.early`` by a local
    fusion of its own lists (:func:`local_candidates`), and the retriever
    asks again only for the candidates a shard did not send. A chunk's re-scoring does not
    depend on which chunks are scored with it (:func:`score_hits`), so the passages are
    the same either way; only the number of round trips changes.

    ``positions`` are the chunks scored, ``answer`` their flat :class:`ScoredCandidates`
    (filter flags for ``positions``, numbers for the kept ones). Without re-scoring a
    passage's score is its fused one, which the retriever sets.
    """

    positions: npt.NDArray[np.int64]
    answer: ScoredCandidates

    def rows(self) -> dict[int, int]:
        """Each scored position's row in ``answer.passages``, or -1 if the filters dropped it."""
        kept = self.answer.kept.tolist()
        rows = (np.cumsum(kept) - 1).tolist()
        positions = self.positions.tolist()
        return {
            position: row if keep else -1
            for position, keep, row in zip(positions, kept, rows, strict=True)
        }


def local_candidates(
    dense: Sequence[RankedChunk], lexical: Sequence[RankedChunk], shards: int, count: int
) -> list[FusedChunk]:
    """A shard's ``count`` likeliest candidates of the merge, from its own lists.

    The only shard's lists are the merge's, so its order is the merge's (RRF with
    ``RRF_K``). One of several orders by RRF with ``LOCAL_RRF_K``: a chunk near the top of
    either of its lists is likely among the merge's candidates. Only the order matters;
    the retriever keeps the global scores.
    """
    return fuse(dense, lexical, RRF_K if shards == 1 else LOCAL_RRF_K)[:count]


class Pending(Protocol[T_co]):
    """A shard call under way; :meth:`result` waits for its answer (or raises its error)."""

    def result(self) -> T_co:
        """The answer, once it has come."""
        ...


class ShardClient(Protocol):
    """What a retriever calls on a shard: a :class:`ShardSearcher` in this process, or a
    remote handle wrapped so that a submit sends the request and ``result()`` waits for it
    (:class:`service.distributed.client.RayShardClient`)."""

    def describe(self) -> ShardInfo:
        """Which shard and generation it serves."""
        ...

    def submit_search(self, request: SearchRequest) -> Pending[ShardLists]:
        """Start its dense and BM25 top ``k``."""
        ...

    def submit_score(self, request: ScoreRequest) -> Pending[ScoredCandidates]:
        """Start re-scoring its candidates (filtered, in the order given)."""
        ...

    def document_text(self, generation: int, doc_id: str) -> str:
        """The text of a document it holds."""
        ...


class Done(Generic[T]):
    """An answer already computed, handed over by :meth:`result` (a call in this process)."""

    def __init__(self, answer: T) -> None:
        self.answer = answer

    def result(self) -> T:
        """The answer."""
        return self.answer


class ShardSearcher:
    """Serves one shard of one generation (see the module docstring).

    Example (needs a built index, so not run as a doctest)::

        searcher = ShardSearcher.open(Path("data/index"), shard=0)
        searcher.info.generation
        # -> 7
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        manifest = index.manifest
        # A generation opened whole is one shard of one, however many it was written in.
        shard, shards = (0, 1) if index.shard is None else (index.shard, manifest.shards)
        self.info = ShardInfo(shard, shards, manifest.generation, manifest.stats_hash)
        self.lexicon = Lexicon(index.stats)

    @classmethod
    def open(cls, index_dir: Path, shard: int, embedder: Embedder | None = None) -> ShardSearcher:
        """Open shard ``shard`` of the current generation of ``index_dir``."""
        return cls(load_index(index_dir, embedder, shard=shard))

    def close(self) -> None:
        """Let go of the generation (a later write may then remove it)."""
        self.index.close()

    def describe(self) -> ShardInfo:
        """Which shard and generation this searcher serves."""
        return self.info

    def _check(self, generation: int) -> None:
        if generation != self.info.generation:
            raise ShardGenerationError(
                f"shard {self.info.shard} serves generation {self.info.generation}, the query "
                f"was planned on generation {generation}; retry it",
                shard=self.info.shard,
            )

    def search(self, request: SearchRequest) -> ShardLists:
        """This shard's top ``k`` chunks by dense and by BM25 search."""
        self._check(request.generation)
        dense, lexical = ranked_lists(
            self.index, request.question, request.query_vector, request.k, request.mode
        )
        lists = ShardLists(self.info.shard, RankedChunks.of(dense), RankedChunks.of(lexical))
        if request.early <= 0:
            return lists
        return replace(lists, early=self._early(request, dense, lexical))

    def _early(
        self, request: SearchRequest, dense: list[RankedChunk], lexical: list[RankedChunk]
    ) -> EarlyScores:
        """Re-scoring of this shard's likeliest candidates (see :class:`EarlyScores`)."""
        likely = local_candidates(dense, lexical, self.info.shards, request.early)
        if request.query_vector is None:
            raise ValueError("re-scoring needs a query vector")
        answer = self.score(
            ScoreRequest(
                request.generation,
                request.question,
                request.query_vector,
                tuple(likely),
                request.filters,
                request.rescore,
                flat=True,
            )
        )
        return EarlyScores(np.array([c.position for c in likely], dtype=np.int64), answer)

    def submit_search(self, request: SearchRequest) -> Done[ShardLists]:
        """:meth:`search`, done now: in one process there is nothing to overlap."""
        return Done(self.search(request))

    def score(self, request: ScoreRequest) -> ScoredCandidates:
        """Filter and re-score candidates this shard holds, in the order given."""
        self._check(request.generation)
        index = self.index
        filters = request.filters
        if filters.active:
            doc_ids = [index.sort_key(c.position)[0] for c in request.candidates]
            documents = index.documents.many(doc_ids)
            kept = [filters.accepts(documents[doc_id]) for doc_id in doc_ids]
        else:  # a position that is not this shard's fails below, where its chunk is read
            kept = [True] * len(request.candidates)
        chosen = [c for c, keep in zip(request.candidates, kept, strict=True) if keep]
        positions = [c.position for c in chosen]
        vectors = index.chunk_vectors(positions) if request.rescore or not request.flat else None
        scores = score_hits(
            index,
            self.lexicon,
            positions,
            query=request.query_vector.reshape(-1),
            terms=self.lexicon.question(request.question),
            rescore=request.rescore,
            vectors=vectors,
            hit_scores=[c.score for c in chosen],
        )
        kept_flags = np.array(kept, dtype=np.bool_)
        if request.flat:
            return ScoredCandidates(kept_flags, scores)
        chunks = index.chunks.many(positions)
        documents = index.documents.many([chunk.doc_id for chunk in chunks])
        sentences = sentence_texts(scores, [documents[chunk.doc_id].text for chunk in chunks])
        return ScoredCandidates(kept_flags, scores, tuple(chunks), tuple(sentences), vectors)

    def submit_score(self, request: ScoreRequest) -> Done[ScoredCandidates]:
        """:meth:`score`, done now."""
        return Done(self.score(request))

    def document_text(self, generation: int, doc_id: str) -> str:
        """The text of a document this shard holds."""
        self._check(generation)
        return self.index.documents[doc_id].text


def open_local_shards(index_dir: Path, embedder: Embedder | None = None) -> list[ShardSearcher]:
    """A searcher for every shard of the current generation of ``index_dir``, in this process."""
    shards = Manifest.read(current_generation(index_dir)).shards
    opened: list[ShardSearcher] = []
    try:
        for shard in range(shards):
            opened.append(ShardSearcher.open(index_dir, shard, embedder))
    except BaseException:
        for searcher in opened:
            searcher.close()
        raise
    return opened
