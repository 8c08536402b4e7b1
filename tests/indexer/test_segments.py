"""Segments: an index written in many segments, with deletions, replacements and merges,
searches exactly as a one-segment build of the same documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.generations import SEGMENTS, collect_garbage, current_generation
from indexer.index import Index, load_index
from indexer.manifest import Manifest
from indexer.merging import MergePolicy
from service.retrieval.hybrid import BM25Retriever, DenseRetriever
from service.retrieval.retriever import Retriever
from tests.indexer.fakes import fake_writer, processed, vector

WORDS = ["mexico", "port", "ferry", "cargo", "strike", "court", "tariff", "storm", "vote", "92"]
QUERIES = ["mexico port", "ferry strike court", "storm 92 cargo", "tariff", "vote mexico vote"]

sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(
    lambda words: " ".join(words) + "."
)
text = st.lists(sentence, min_size=1, max_size=6).map(" ".join)


def _rankings(index: Index) -> list[object]:
    dense, bm25 = DenseRetriever(index), BM25Retriever(index)
    out: list[object] = []
    for query in QUERIES:
        found = bm25.search(query, 1000)
        out.append([(index.chunks[r.position].chunk_id, r.score) for r in found])
        found = dense.search(vector(query), 1000)
        out.append([(index.chunks[r.position].chunk_id, r.score) for r in found])
        passages = Retriever(index).retrieve(query, vector(query), top_k=5)
        out.append([(p.chunk.chunk_id, p.chunk.text, p.score) for p in passages])
    stats = index.stats
    out.append((stats.chunks, stats.total_length, stats.keys.tolist(), stats.df.tolist()))
    out.append(sorted((c.chunk_id, c.text, c.sentences) for c in index.chunks))
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=st.lists(text, min_size=2, max_size=14),
    deleted=st.sets(st.integers(0, 13)),
    replaced=st.dictionaries(st.integers(0, 13), text, max_size=4),
    batch=st.integers(1, 5),
)
def test_many_segments_search_as_one(
    tmp_path_factory: pytest.TempPathFactory,
    texts: list[str],
    deleted: set[int],
    replaced: dict[int, str],
    batch: int,
) -> None:
    root = tmp_path_factory.mktemp("segments")
    ids = [f"doc-{i:02d}" for i in range(len(texts))]
    deleted = {i for i in deleted if i < len(texts)}
    replaced = {i: t for i, t in replaced.items() if i < len(texts) and i not in deleted}
    if len(deleted) == len(texts):
        deleted.pop()

    # Many small segments, merged two at a time, written in batches, then changed.
    segmented = fake_writer(root / "many", segment_chunks=3, factor=2)
    for begin in range(0, len(texts), batch):
        segmented.add_processed(
            [processed(ids[i], texts[i]) for i in range(begin, min(begin + batch, len(texts)))]
        )
    if deleted:
        segmented.delete([ids[i] for i in sorted(deleted)])
    if replaced:
        segmented.add_processed([processed(ids[i], t) for i, t in replaced.items()])

    final = [
        processed(ids[i], replaced.get(i, texts[i])) for i in range(len(texts)) if i not in deleted
    ]
    fake_writer(root / "one", segment_chunks=10**6).add_processed(final, fresh=True)

    many, one = load_index(root / "many"), load_index(root / "one")
    try:
        assert len(one.segments) == 1
        assert many.manifest.documents == one.manifest.documents == len(final)
        assert _rankings(many) == _rankings(one)
    finally:
        many.close()
        one.close()


def test_a_deleted_document_is_never_found_and_leaves_the_statistics(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path)
    writer.add_processed([processed("a", "mexico port. ferry."), processed("b", "ferry strike.")])
    writer.delete(["a"])
    index = load_index(tmp_path)
    try:
        assert list(index.documents) == ["b"]
        assert [c.doc_id for c in index.chunks] == ["b"]
        assert BM25Retriever(index).search("mexico port", 10) == []
        found = DenseRetriever(index).search(vector("mexico port."), 10)
        assert {index.chunks[r.position].doc_id for r in found} == {"b"}
        assert index.stats.chunks == 1
        # Two of its three chunks gone: the segment was rewritten without them.
        assert [s.deleted for s in index.manifest.segments] == [[]]
        assert [s.chunks for s in index.manifest.segments] == [1]
    finally:
        index.close()


def test_single_document_adds_are_merged_and_old_segments_collected(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path, factor=3)
    for i in range(12):
        writer.add_processed([processed(f"d{i}", f"storm {i}. cargo vote.")])
    manifest = Manifest.read(current_generation(tmp_path))
    # Twelve one-chunk writes, merged three at a time, tier by tier.
    assert len(manifest.segments) < 6
    assert manifest.documents == 12
    named = {s.name for s in manifest.segments}
    for folder in (tmp_path / "generations").iterdir():
        named |= {s.name for s in Manifest.read(folder).segments}
    assert {p.name for p in (tmp_path / SEGMENTS).iterdir()} == named


def test_a_segment_a_reader_still_uses_outlives_its_generation(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path, factor=2)
    writer.generations_to_keep = 1
    writer.add_processed([processed("a", "port one.")])
    reader = load_index(tmp_path)
    first = reader.segments[0].folder
    writer.add_processed([processed("b", "port two.")])  # merges a's segment away
    writer.add_processed([processed("c", "port three.")])
    assert first.exists()  # leased through its generation
    assert reader.documents["a"].text == "port one."
    reader.close()
    writer.collect_garbage()
    assert not first.exists()
    index = load_index(tmp_path)
    assert sorted(index.documents) == ["a", "b", "c"]
    index.close()


def test_a_damaged_segment_is_refused_with_a_rebuild_hint(tmp_path: Path) -> None:
    fake_writer(tmp_path).add_processed([processed("a", "port one. ferry two.")])
    [segment] = (tmp_path / SEGMENTS).iterdir()
    (segment / "chunks.npy").write_bytes(b"not numpy")
    with pytest.raises(Exception, match="rebuild"):
        load_index(tmp_path)


def test_killed_segment_writes_are_garbage(tmp_path: Path) -> None:
    fake_writer(tmp_path).add_processed([processed("a", "port one.")])
    stray = tmp_path / SEGMENTS / ".tmp-killed"
    stray.mkdir()
    orphan = tmp_path / SEGMENTS / "s000099"
    orphan.mkdir()
    removed = collect_garbage(tmp_path, keep=2)
    assert stray in removed and orphan in removed
    assert load_index(tmp_path).manifest.documents == 1


def test_merge_policy_tiers() -> None:
    policy = MergePolicy(factor=10, floor=1000, largest=250_000)
    assert [policy.tier(n) for n in (1, 999, 1000, 9_999, 10_000, 25_000, 250_000)] == [
        0,
        0,
        0,
        0,
        1,
        1,
        2,
    ]
    flushes = {f"s{i}": 25_000 for i in range(10)}
    assert policy.plan(flushes, {}) == list(flushes)
    assert policy.plan({"big": 250_000, **{f"s{i}": 25_000 for i in range(9)}}, {}) == []
    # Flushes run a little over their size: nine of ten fit the largest merge.
    over = {f"s{i}": 25_002 for i in range(10)}
    assert policy.plan(over, {}) == list(over)[:9]
    # A segment that lost most of its chunks is rewritten alone.
    assert policy.plan({"a": 100, "b": 5000}, {"a": 900}) == ["a"]
    assert np.isclose(policy.tier(1000), 0)


def test_chunks_and_documents_read_together_equal_one_by_one(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path, segment_chunks=3, factor=10)
    writer.add_processed([processed(f"d{i}", f"port {i}. ferry {i}. bay {i}.") for i in range(6)])
    writer.delete(["d2"])
    index = load_index(tmp_path)
    try:
        live = [p for p in range(index.size) if p not in _deleted_positions(index)]
        wanted = [*reversed(live), live[0]]  # any order, repeats allowed
        one_by_one = [index.chunks[p] for p in wanted]
        fresh = load_index(tmp_path)
        try:
            assert fresh.chunks.many(wanted) == one_by_one
            ids = [c.doc_id for c in one_by_one]
            assert fresh.documents.many(ids) == {d: index.documents[d] for d in ids}
        finally:
            fresh.close()
    finally:
        index.close()


def _deleted_positions(index: Index) -> set[int]:
    out: set[int] = set()
    for at, deleted in enumerate(index.deleted):
        if deleted is not None:
            base = int(index.chunk_base[at])
            out |= {base + int(r) for r in np.flatnonzero(deleted.mask)}
    return out


def test_copies_tied_at_a_segments_cut_break_the_same_way_in_any_split(tmp_path: Path) -> None:
    # Ten copies of one text score the same for any query: which k come back must not
    # depend on which segments hold them, nor on the order they were added in.
    copies = [processed(f"d{i:02d}", "same words here.", per_chunk=1) for i in reversed(range(10))]
    fake_writer(tmp_path / "many", segment_chunks=4, factor=100).add_processed(copies)
    fake_writer(tmp_path / "one", segment_chunks=10**6).add_processed(copies)
    found = []
    for name in ("many", "one"):
        index = load_index(tmp_path / name)
        try:
            ranked = DenseRetriever(index).search(vector("same words here."), 3)
            found.append([index.sort_key(r.position) for r in ranked])
        finally:
            index.close()
    assert found[0] == found[1] == [("d00", 0), ("d01", 0), ("d02", 0)]
