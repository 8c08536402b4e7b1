"""The query path over S shards gives exactly what it gives over one (a generation opened
whole in one process is one shard of one).

Model-free (tests/indexer/fakes.py), except the last test, which asks the seeds gold
questions of an index of the seeds in three shards.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citeqa.types import Passage
from indexer.embedding import Embedder
from indexer.index import Index, load_index
from indexer.processing import DocumentProcessor
from indexer.writer import IndexWriter
from service.errors import ShardGenerationError, ShardUnavailableError
from service.retrieval.hybrid import BM25Retriever, DenseRetriever, RankedChunk, fuse, merge_ranked
from service.retrieval.rescoring import PassageScores
from service.retrieval.retriever import EARLY_FACTOR, Filters, RetrievalOptions, Retriever
from service.retrieval.shard import (
    LOCAL_RRF_K,
    RankedChunks,
    ScoredCandidates,
    ScoreRequest,
    SearchRequest,
    ShardInfo,
    ShardSearcher,
    local_candidates,
    open_local_shards,
)
from tests.indexer.fakes import fake_writer, processed, vector

REPO = Path(__file__).resolve().parents[3]
WORDS = ["mexico", "port", "ferry", "cargo", "strike", "court", "tariff", "storm", "vote", "92"]
QUERIES = ["mexico port", "ferry strike court", "storm 92 cargo", "tariff", "vote mexico vote"]
POOL = 1000

sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(
    lambda words: " ".join(words) + "."
)
text = st.lists(sentence, min_size=1, max_size=6).map(" ".join)


def test_merge_keeps_the_global_top_k_with_the_one_process_tie_break() -> None:
    shard_a = (RankedChunk(7, 0.9, "b", 0), RankedChunk(3, 0.5, "a", 2))
    shard_b = (
        RankedChunk(1, 0.9, "a", 1),
        RankedChunk(9, 0.5, "a", 0),
        RankedChunk(4, 0.1, "c", 0),
    )
    merged = merge_ranked([shard_a, shard_b], 3)
    # Equal scores: the lower (document id, chunk index) first, whichever shard found it.
    assert [r.position for r in merged] == [1, 7, 9]
    assert merge_ranked([shard_b, shard_a], 3) == merged
    assert merge_ranked([(), ()], 5) == []


def test_fusion_is_the_one_process_rrf() -> None:
    dense = [RankedChunk(1, 0.9, "a", 0), RankedChunk(2, 0.8, "b", 0)]
    lexical = [RankedChunk(2, 4.0, "b", 0), RankedChunk(3, 3.0, "a", 1)]
    fused = fuse(dense, lexical)
    assert [c.position for c in fused] == [2, 1, 3]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert (fused[0].dense_rank, fused[0].bm25_rank, fused[0].bm25_score) == (2, 1, 4.0)
    # Ties in the fused score go to the lower (document id, chunk index).
    tied = fuse([RankedChunk(5, 1.0, "z", 0)], [RankedChunk(6, 1.0, "y", 0)])
    assert [c.position for c in tied] == [6, 5]


def _build(
    root: Path,
    shards: int,
    texts: list[str],
    deleted: set[int],
    replaced: dict[int, str],
    batch: int,
) -> None:
    ids = [f"doc-{i:02d}" for i in range(len(texts))]
    writer = fake_writer(root, segment_chunks=3, factor=2, shards=shards)
    for begin in range(0, len(texts), batch):
        writer.add_processed(
            [processed(ids[i], texts[i]) for i in range(begin, min(begin + batch, len(texts)))]
        )
    if deleted:
        writer.delete([ids[i] for i in sorted(deleted)])
    if replaced:
        writer.add_processed([processed(ids[i], t) for i, t in replaced.items()])


def _named(passages: list[Passage]) -> list[object]:
    """Passages without positions (which differ between two builds)."""
    return [
        (
            p.chunk.chunk_id,
            p.chunk.char_start,
            p.chunk.char_end,
            p.chunk.text,
            p.score,
            p.hit.score,
            p.hit.dense_score,
            p.hit.bm25_score,
            p.hit.dense_rank,
            p.hit.bm25_rank,
            [(s.doc_id, s.start, s.end, s.dense, s.lexical, s.score) for s in p.sentences],
            _named(list(p.duplicates)),
        )
        for p in passages
    ]


OPTIONS = [
    RetrievalOptions(),
    RetrievalOptions(dedup=False),
    RetrievalOptions(rescore=False, candidates=5),
    RetrievalOptions(mode="bm25", join_paragraphs=False),
    RetrievalOptions(mode="dense", candidates=3),
]


def _results(index: Index, sharded: Retriever) -> list[object]:
    """Everything a query sees through the shards, checked against the generation opened
    whole on the way; named by chunk id so two builds compare."""
    out: list[object] = []
    retriever = Retriever(index)
    # The same shards, answering in numbers only: the retriever has the generation open,
    # and the shards re-score their likely candidates with their lists (EarlyScores): as
    # usual, for one candidate each (a second round for nearly every query), and never.
    flat = Retriever(index, shards=sharded.shards, early_factor=EARLY_FACTOR)
    early = [Retriever(index, shards=sharded.shards, early_factor=f) for f in (0.01, 0.0)]
    for query in QUERIES:
        request = SearchRequest(sharded.generation, query, vector(query), POOL)
        lists = [shard.submit_search(request).result() for shard in sharded.shards]
        dense = merge_ranked([found.dense.unpack() for found in lists], POOL)
        lexical = merge_ranked([found.bm25.unpack() for found in lists], POOL)
        # The merged lists are the lists of the whole generation, positions and scores.
        assert dense == DenseRetriever(index).search(vector(query), POOL)
        assert lexical == BM25Retriever(index).search(query, POOL)
        fused = fuse(dense, lexical)
        chunks = index.chunks.many([c.position for c in fused])
        out.append([(f"{r.doc_id}#{r.index}", r.score) for r in dense])
        out.append([(f"{r.doc_id}#{r.index}", r.score) for r in lexical])
        out.append([(chunk.chunk_id, c.score) for c, chunk in zip(fused, chunks, strict=True)])
        for options in OPTIONS:
            for top_k in (1, 3, 10):
                want = retriever.retrieve(query, vector(query), top_k, options=options)
                got = sharded.retrieve(query, vector(query), top_k, options=options)
                assert got == want  # exactly, positions and sentence rows included
                assert flat.retrieve(query, vector(query), top_k, options=options) == want
                for other in early:
                    assert other.retrieve(query, vector(query), top_k, options=options) == want
                out.append(_named(got))
    # Shards in this process are asked twice: early scores would only repeat the fusion.
    assert retriever.count == 1 and retriever.early_count(POOL) == 0 < flat.early_count(POOL)
    # One shard holds every candidate it re-scores early: one round trip, always.
    assert flat.second_rounds == 0 or flat.count > 1
    assert 0 < early[1].second_rounds <= early[1].queries  # each query that found any
    return out


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=st.lists(text, min_size=2, max_size=14),
    deleted=st.sets(st.integers(0, 13)),
    replaced=st.dictionaries(st.integers(0, 13), text, max_size=4),
    batch=st.integers(1, 5),
)
def test_three_shards_give_what_one_gives(
    tmp_path_factory: pytest.TempPathFactory,
    texts: list[str],
    deleted: set[int],
    replaced: dict[int, str],
    batch: int,
) -> None:
    root = tmp_path_factory.mktemp("shards")
    deleted = {i for i in deleted if i < len(texts)}
    replaced = {i: t for i, t in replaced.items() if i < len(texts) and i not in deleted}
    if len(deleted) == len(texts):
        deleted.pop()
    results = []
    for shards in (1, 3):
        _build(root / str(shards), shards, texts, deleted, replaced, batch)
        index = load_index(root / str(shards))
        searchers = open_local_shards(root / str(shards))
        try:
            assert len(searchers) == shards
            results.append(_results(index, Retriever(shards=searchers)))
        finally:
            index.close()
            for searcher in searchers:
                searcher.close()
    assert results[0] == results[1]


@pytest.fixture
def three_shards(tmp_path: Path) -> list[ShardSearcher]:
    writer = fake_writer(tmp_path, segment_chunks=3, shards=3)
    writer.add_processed(
        [processed(f"doc-{i}", f"mexico port {i}. storm cargo. vote {i}.") for i in range(9)]
    )
    return open_local_shards(tmp_path)


def test_filters_run_on_the_shards(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path, shards=3)
    docs = [processed(f"doc-{i}", f"mexico port {i}. storm cargo.") for i in range(9)]
    docs = [
        replace(d, document=replace(d.document, source="ap" if i % 2 else "reuters"))
        for i, d in enumerate(docs)
    ]
    writer.add_processed(docs)
    index, shards = load_index(tmp_path), open_local_shards(tmp_path)
    filters = Filters(sources=frozenset({"ap"}))
    want = Retriever(index).retrieve("mexico port", vector("mexico port"), 5, filters=filters)
    got = Retriever(shards=shards).retrieve(
        "mexico port", vector("mexico port"), 5, filters=filters
    )
    assert got == want and {p.chunk.doc_id for p in got} <= {"doc-1", "doc-3", "doc-5", "doc-7"}
    flat = Retriever(index, shards=shards)
    assert flat.retrieve("mexico port", vector("mexico port"), 5, filters=filters) == want


def _arrays(answer: ScoredCandidates | RankedChunks) -> list[np.ndarray]:
    """The arrays of an answer (its passages' columns included)."""
    values = [getattr(answer, f.name) for f in fields(answer)]
    if isinstance(answer, ScoredCandidates):
        values += [getattr(answer.passages, f.name) for f in fields(PassageScores)]
    return [value for value in values if isinstance(value, np.ndarray)]


def _same(a: object, b: object) -> bool:
    """Equal field by field, arrays by dtype and value (``==`` on arrays is elementwise)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b)
        )
    if is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)
        )
    return a == b


def test_requests_and_answers_cross_a_process_boundary(three_shards: list[ShardSearcher]) -> None:
    shard = three_shards[2]  # shard 0 holds none of the nine documents
    request = SearchRequest(shard.info.generation, "mexico port", vector("mexico port"), 10)
    lists = shard.search(pickle.loads(pickle.dumps(request)))
    back_lists = pickle.loads(pickle.dumps(lists))
    assert back_lists.shard == lists.shard and len(lists.dense) > 0
    assert _same(back_lists.dense, lists.dense) and _same(back_lists.bm25, lists.bm25)
    retriever = Retriever(shards=three_shards)
    fused = fuse(lists.dense.unpack(), lists.bm25.unpack())
    for flat in (False, True):
        score = ScoreRequest(
            retriever.generation,
            "mexico port",
            vector("mexico port"),
            tuple(fused),
            Filters(),
            True,
            flat=flat,
        )
        answer = shard.score(pickle.loads(pickle.dumps(score)))
        assert _same(pickle.loads(pickle.dumps(answer)), answer)
    error = pickle.loads(pickle.dumps(ShardUnavailableError("shard 2 is down", shard=2)))
    assert error.shard == 2 and str(error) == "shard 2 is down"


def test_a_flat_answer_is_numbers_in_arrays(three_shards: list[ShardSearcher]) -> None:
    shard = three_shards[2]  # shard 0 holds none of the nine documents
    request = SearchRequest(shard.info.generation, "mexico port", vector("mexico port"), 10)
    lists = shard.search(request)
    for ranked in (lists.dense, lists.bm25):
        # Numbers in arrays; the tie-break's document ids are the only strings.
        assert [a.dtype.kind for a in _arrays(ranked)] == ["i", "f", "i"]
        assert all(isinstance(doc_id, str) for doc_id in ranked.doc_ids)
    candidates = tuple(fuse(lists.dense.unpack(), lists.bm25.unpack()))
    full, flat = (
        shard.score(
            ScoreRequest(
                shard.info.generation,
                "mexico port",
                vector("mexico port"),
                candidates,
                Filters(),
                True,
                flat=is_flat,
            )
        )
        for is_flat in (False, True)
    )
    assert len(flat.passages) == len(candidates) > 0 and len(flat.passages.sentence_rows) > 0
    assert (flat.chunks, flat.texts, flat.vectors) == ((), (), None)
    arrays = _arrays(flat)
    assert len(arrays) == 1 + len(fields(PassageScores))
    assert all(a.dtype.kind in "bif" and a.dtype != object for a in arrays)
    # Pickled, it is its arrays' bytes and a fixed overhead a field: no object per passage
    # or per sentence, and no text.
    size = len(pickle.dumps(flat))
    assert size < sum(a.nbytes for a in arrays) + 200 * len(arrays)
    assert _same(replace(full, chunks=(), texts=(), vectors=None), flat)


def test_early_scores_are_the_second_rounds_numbers(three_shards: list[ShardSearcher]) -> None:
    shard = three_shards[2]  # shard 0 holds none of the nine documents
    generation, query = shard.info.generation, vector("mexico port")
    filters = Filters(sources=frozenset({"ap"}))
    for rescore in (True, False):
        request = SearchRequest(
            generation, "mexico port", query, 10, early=4, filters=filters, rescore=rescore
        )
        lists = shard.search(request)
        assert lists.early is not None and len(lists.early.positions) == 4
        likely = fuse(lists.dense.unpack(), lists.bm25.unpack(), LOCAL_RRF_K)[:4]
        assert lists.early.positions.tolist() == [c.position for c in likely]
        alone = shard.score(
            ScoreRequest(
                generation, "mexico port", query, tuple(likely), filters, rescore, flat=True
            )
        )
        assert _same(lists.early.answer, alone)
        rows = lists.early.rows()
        kept = alone.kept.tolist()
        assert [rows[c.position] >= 0 for c in likely] == kept
        # Any subset, taken from the early answer, is what scoring that subset gives.
        some = [c for c in reversed(likely) if rows[c.position] >= 0]
        taken = lists.early.answer.passages.take([rows[c.position] for c in some])
        again = shard.score(
            ScoreRequest(generation, "mexico port", query, tuple(some), filters, True, flat=True)
        )
        if rescore:
            assert _same(taken, again.passages)
        # Parts joined (as the coordinator joins the shards' parts) are the parts' numbers.
        picked = [rows[c.position] for c in some]
        halves = [lists.early.answer.passages.take(picked[:1]), taken.take([])]
        halves.append(lists.early.answer.passages.take(picked[1:]))
        assert _same(PassageScores.concat(halves), taken)
    assert shard.search(SearchRequest(generation, "mexico port", query, 10)).early is None


def test_one_shard_orders_its_early_candidates_as_the_merge() -> None:
    # Chunk 9 is fourth in both lists: first by RRF with k = 60, behind the lists' tops
    # with k = 1.
    dense = [RankedChunk(p, 1.0 - p / 10, f"d{p}", 0) for p in (1, 2, 3, 9)]
    lexical = [RankedChunk(p, 9.0 - p / 10, f"d{p}", 0) for p in (5, 6, 7, 9)]
    assert [c.position for c in local_candidates(dense, lexical, 1, 2)] == [
        c.position for c in fuse(dense, lexical)[:2]
    ]
    assert local_candidates(dense, lexical, 1, 1)[0].position == 9
    assert local_candidates(dense, lexical, 3, 1)[0].position != 9


def test_a_shard_refuses_another_generation(three_shards: list[ShardSearcher]) -> None:
    shard = three_shards[1]
    stale = SearchRequest(shard.info.generation + 1, "mexico", vector("mexico"), 5)
    with pytest.raises(ShardGenerationError, match="shard 1 serves generation 1") as caught:
        shard.search(stale)
    assert caught.value.shard == 1
    with pytest.raises(ShardGenerationError, match="shard 1"):
        shard.document_text(shard.info.generation + 1, "doc-0")


def test_shards_of_two_generations_are_never_mixed(three_shards: list[ShardSearcher]) -> None:
    index_dir = three_shards[0].index.folder.parent.parent
    fake_writer(index_dir, shards=3).add_processed([processed("doc-new", "ferry strike.")])
    newer = ShardSearcher.open(index_dir, 2)
    with pytest.raises(ShardGenerationError, match="shard 2 serves generation 2"):
        Retriever(shards=[*three_shards[:2], newer])
    # A retriever pinned on generation 1 is refused by a shard that moved on.
    retriever = Retriever(shards=three_shards)
    retriever.shards[2] = newer
    with pytest.raises(ShardGenerationError, match="shard 2"):
        retriever.retrieve("mexico port", vector("mexico port"), 3)


class _Failing:
    """A call whose answer never comes: ``result()`` raises, as a remote handle's does."""

    def result(self) -> NoReturn:
        raise ConnectionError("no live replica")


class _Down:
    """A shard whose replicas are all gone: a submit fails at once, or when awaited."""

    def __init__(self, info: ShardInfo, fails_at: str = "result") -> None:
        self.info = info
        self.fails_at = fails_at

    def describe(self) -> ShardInfo:
        return self.info

    def _submit(self) -> _Failing:
        if self.fails_at == "submit":
            raise ConnectionError("no live replica")
        return _Failing()

    def submit_search(self, request: SearchRequest) -> _Failing:  # noqa: ARG002
        return self._submit()

    def submit_score(self, request: ScoreRequest) -> _Failing:  # noqa: ARG002
        return self._submit()

    def document_text(self, generation: int, doc_id: str) -> str:  # noqa: ARG002
        raise ConnectionError("no live replica")


@pytest.mark.parametrize("fails_at", ["submit", "result"])
def test_an_unreachable_shard_fails_the_query_and_is_named(
    three_shards: list[ShardSearcher], fails_at: str
) -> None:
    down = _Down(three_shards[2].info, fails_at)
    retriever = Retriever(shards=[*three_shards[:2], down])
    with pytest.raises(ShardUnavailableError, match="shard 2 did not answer") as caught:
        retriever.retrieve("mexico port", vector("mexico port"), 3)
    assert caught.value.shard == 2
    with pytest.raises(ValueError, match="one of each"):
        Retriever(shards=three_shards[:2])


def test_a_generation_opened_whole_is_one_shard_of_one(three_shards: list[ShardSearcher]) -> None:
    index_dir = three_shards[0].index.folder.parent.parent
    whole = load_index(index_dir)
    try:
        retriever = Retriever(whole)
        assert retriever.count == 1 and retriever.infos[0].shards == 1
        assert retriever.index is whole
        assert retriever.retrieve("mexico port", vector("mexico port"), 3)
    finally:
        whole.close()
    with pytest.raises(ValueError, match="made with shards only"):
        _ = Retriever(shards=three_shards).index
    with pytest.raises(ValueError, match="needs an index, shards, or both"):
        Retriever()


def test_a_failure_in_this_process_is_raised_as_it_is(three_shards: list[ShardSearcher]) -> None:
    # Not "shard 0 did not answer" (503): the searcher is this process, so its error is the
    # query's own, as the index raised it.
    whole = load_index(three_shards[0].index.folder.parent.parent)
    try:
        with pytest.raises(ValueError, match="need a query vector"):
            Retriever(whole).retrieve("mexico port", None, 3)  # type: ignore[arg-type]
    finally:
        whole.close()


def test_the_seeds_in_three_shards_answer_as_one_process(
    seed_index: Index, processor: DocumentProcessor, embedder: Embedder, tmp_path: Path
) -> None:
    # The seeds as the session built them, rewritten into three shards (no model runs).
    documents = [
        segment.processed(row)[0]
        for segment in seed_index.segments
        for row in range(len(segment.doc_ids))
        if segment.doc_ids[row] in seed_index.documents
    ]
    IndexWriter(tmp_path, processor, shards=3).add_processed(documents, fresh=True)
    sharded_index = load_index(tmp_path, embedder)
    shards = open_local_shards(tmp_path, embedder)
    assert {s.info.shard for s in shards} == {0, 1, 2}
    assert all(len(s.index.documents) > 0 for s in shards)
    # Texts and vectors read from a local copy of the generation, as the Ray ingress does.
    coordinator, asking = Retriever(sharded_index, shards=shards), Retriever(shards=shards)
    one, same = Retriever(seed_index), Retriever(sharded_index)
    gold = [json.loads(line) for line in (REPO / "eval/gold/seeds.jsonl").read_text().splitlines()]
    assert len(gold) > 50
    try:
        for item in gold:
            question = item["question"]
            query = embedder.encode_query(question)
            got = coordinator.retrieve(question, query, 5)
            assert got == same.retrieve(question, query, 5) == asking.retrieve(question, query, 5)
            assert _named(got) == _named(one.retrieve(question, query, 5)), question
    finally:
        sharded_index.close()
        for shard in shards:
            shard.close()
    assert np.isfinite([p.score for p in got]).all()
