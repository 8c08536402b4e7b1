"""The vector index: factory strings, the size rule, exact and approximate search, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from indexer.embedding import Vectors
from indexer.errors import IndexCorruptError
from indexer.vectors import (
    AUTO,
    EXACT_UP_TO,
    Deletions,
    auto_nlist,
    build_streamed,
    build_vector_index,
    check_factory,
    choose_factory,
    prepare_for_search,
    read_vector_index,
    reconstruct,
    search,
    search_parameters,
    write_vector_index,
)

DIMENSION = 384


def unit_rows(rows: int, seed: int = 0) -> Vectors:
    vectors = np.random.default_rng(seed).standard_normal((rows, DIMENSION)).astype(np.float32)
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)


def clustered(rows: int, centres: int = 40, seed: int = 0) -> Vectors:
    """Points around a few random centres: neighbours exist, as in real text."""
    rng = np.random.default_rng(seed)
    middle = unit_rows(centres, seed + 1)
    noise = rng.standard_normal((rows, DIMENSION)).astype(np.float32) * 0.05
    vectors = middle[rng.integers(centres, size=rows)] + noise
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)


def brute_force(
    vectors: Vectors, query: Vectors, k: int, deleted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    scores = vectors @ query
    if deleted is not None:
        scores[deleted] = -np.inf
    order = np.argsort(-scores, kind="stable")[:k]
    order = order[np.isfinite(scores[order])]
    return scores[order], order


def recall(index: Any, vectors: Vectors, queries: Vectors, k: int = 10) -> float:
    found = 0
    for query in queries:
        _, ids = search(index, query, k)
        found += len(np.intersect1d(ids, brute_force(vectors, query, k)[1]))
    return found / (len(queries) * k)


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("auto", AUTO),
        (" Auto ", AUTO),
        ("Flat", "Flat"),
        ("flat", "Flat"),
        ("hnsw", "HNSW32"),
        ("HNSW32", "HNSW32"),
        ("IVF4096,SQ8", "IVF4096,SQ8"),
        ("IVF16384_HNSW32,SQ8", "IVF16384_HNSW32,SQ8"),
        ("IVF1024,PQ48", "IVF1024,PQ48"),
    ],
)
def test_check_factory_accepts_factory_strings(given, normalised):
    assert check_factory(given) == normalised


@pytest.mark.parametrize("given", ["nonsense", "", "IVF", "IVF1024,PQ47", "IDMap,Flat"])
def test_check_factory_refuses_with_the_setting_named(given):
    with pytest.raises(ValueError, match=r"CITEQA_FAISS_INDEX=.*'Flat' \(exact\)"):
        check_factory(given)


def test_check_factory_message_drops_faiss_source_location():
    with pytest.raises(ValueError, match="could not parse index string nonsense") as caught:
        check_factory("nonsense")
    assert "index_factory.cpp" not in str(caught.value)


def test_auto_is_exact_up_to_the_threshold_then_ivf_sq8():
    assert choose_factory(0) == "Flat"
    assert choose_factory(EXACT_UP_TO) == "Flat"
    assert choose_factory(EXACT_UP_TO + 1) == f"IVF{auto_nlist(EXACT_UP_TO + 1)},SQ8"
    assert choose_factory(100_000) == "IVF1024,SQ8"
    assert choose_factory(300_000) == "IVF2048,SQ8"
    assert choose_factory(1_000_000) == "IVF4096,SQ8"
    assert choose_factory(1_000_000, "AUTO") == choose_factory(1_000_000)


def test_auto_nlist_grows_with_the_square_root_within_bounds():
    lists = [auto_nlist(size) for size in (1, 50_001, 300_000, 1_000_000, 10**9)]
    assert lists == sorted(lists)
    assert lists[0] == 256 and lists[-1] == 4096
    assert auto_nlist(65_536) == 1024  # 4·sqrt = 1024 exactly
    assert all(bin(lists_).count("1") == 1 for lists_ in lists)


def test_a_configured_factory_is_used_when_the_segment_can_train_it():
    assert choose_factory(10, "HNSW32") == "HNSW32"
    assert choose_factory(10**6, "Flat") == "Flat"
    assert choose_factory(39 * 1024, "IVF1024,SQ8") == "IVF1024,SQ8"


def test_small_segments_are_exact_when_too_small_to_train():
    assert choose_factory(39 * 1024 - 1, "IVF1024,SQ8") == "Flat"
    assert choose_factory(5_000, "IVF16384_HNSW32,SQ8") == "Flat"
    # PQ's 256 centroids per sub-vector need rows too, inside IVF or not.
    assert choose_factory(5_000, "IVF16,PQ48") == "Flat"
    assert choose_factory(0, "HNSW32,SQ8") == "Flat"


def test_choose_factory_refuses_bad_input():
    with pytest.raises(ValueError, match="CITEQA_FAISS_INDEX"):
        choose_factory(100, "IVF")
    with pytest.raises(ValueError, match="cannot hold"):
        choose_factory(-1)


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        ("Flat", {}),
        ("HNSW32", {"efSearch": 128}),
        ("IVF64,SQ8", {"nprobe": 16}),
        ("IVF4096,SQ8", {"nprobe": 512}),
        ("IVF16384_HNSW32,SQ8", {"nprobe": 2048, "quantizer_efSearch": 4096}),
    ],
)
def test_search_parameters_probe_an_eighth_of_the_lists(factory, expected):
    index = faiss.index_factory(DIMENSION, factory, faiss.METRIC_INNER_PRODUCT)
    assert search_parameters(index) == expected
    prepare_for_search(index)
    ivf = faiss.try_extract_index_ivf(index)
    assert ivf is None or ivf.nprobe == expected["nprobe"]


def test_flat_search_equals_brute_force():
    vectors = unit_rows(500)
    index = build_vector_index(vectors, "Flat")
    for query in unit_rows(5, seed=1):
        scores, ids = search(index, query, 10)
        expected_scores, expected_ids = brute_force(vectors, query, 10)
        assert scores.dtype == np.float32 and ids.dtype == np.int64
        np.testing.assert_array_equal(ids, expected_ids)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)


def test_flat_search_with_deleted_rows_equals_brute_force_without_them():
    vectors = unit_rows(500)
    deleted = np.random.default_rng(2).random(500) < 0.3
    index = build_vector_index(vectors, "Flat")
    for query in vectors[:5]:  # each query's own row is its best match, maybe deleted
        scores, ids = search(index, query, 10, deleted)
        expected_scores, expected_ids = brute_force(vectors, query, 10, deleted)
        np.testing.assert_array_equal(ids, expected_ids)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
        assert not deleted[ids].any()
        packed = search(index, query, 10, Deletions.of(deleted))
        np.testing.assert_array_equal(packed[1], ids)
        np.testing.assert_array_equal(packed[0], scores)


def test_deletions_pack_live_rows_in_faiss_bit_order():
    mask = np.zeros(10, dtype=bool)
    mask[[0, 9]] = True
    deletions = Deletions.of(mask)
    assert deletions.count == 2
    assert deletions.live_bits.tolist() == [0b11111110, 0b00000001]


def test_search_returns_only_live_rows_when_few_are_left():
    vectors = unit_rows(20)
    deleted = np.ones(20, dtype=bool)
    deleted[[3, 11]] = False
    index = build_vector_index(vectors, "Flat")
    _, ids = search(index, vectors[0], 10, deleted)
    assert sorted(ids.tolist()) == [3, 11]
    _, ids = search(index, vectors[0], 10, np.ones(20, dtype=bool))
    assert len(ids) == 0


def test_search_on_an_empty_index_and_a_wrong_mask():
    empty = build_vector_index(np.zeros((0, DIMENSION), dtype=np.float32), "Flat")
    scores, ids = search(empty, unit_rows(1)[0], 10)
    assert scores.shape == (0,) and ids.shape == (0,)
    index = build_vector_index(unit_rows(10), "Flat")
    with pytest.raises(ValueError, match="mask has 9 rows, the index 10"):
        search(index, unit_rows(1)[0], 3, np.ones(9, dtype=bool))


@pytest.mark.parametrize(
    "factory", ["HNSW32", "IVF32,SQ8", "IVF16_HNSW32,SQ8", "PQ16x4", "IVF16,SQ8,RFlat"]
)
def test_approximate_search_never_returns_deleted_rows(factory):
    # FAISS's IndexPQ and IndexRefine take no selector: search over-fetches and filters.
    vectors = clustered(2_000)
    deleted = np.random.default_rng(3).random(2_000) < 0.5
    index = build_vector_index(vectors, factory)
    for query in vectors[:20]:
        _, ids = search(index, query, 10, deleted)
        assert len(ids) == 10
        assert not deleted[ids].any()


def test_ivf_round_trip_keeps_recall_and_search_parameters(tmp_path: Path):
    vectors = clustered(5_000)
    queries = clustered(50, seed=7)
    built = build_vector_index(vectors, "IVF32,SQ8")
    assert recall(built, vectors, queries) >= 0.9
    write_vector_index(built, tmp_path / "chunks.faiss", expected=5_000)
    for mmap in (False, True):
        index = prepare_for_search(read_vector_index(tmp_path / "chunks.faiss", mmap=mmap))
        ivf = faiss.extract_index_ivf(index)
        assert ivf.nprobe == search_parameters(index)["nprobe"] == 16  # the floor
        assert recall(index, vectors, queries) >= 0.9
        for query in queries[:5]:
            np.testing.assert_array_equal(search(index, query, 10)[1], search(built, query, 10)[1])
        decoded = reconstruct(index, np.array([0, 4_999]))
        assert decoded.shape == (2, DIMENSION)
        assert (np.sum(decoded * vectors[[0, 4_999]], axis=1) > 0.99).all()


def test_ivf_builds_are_the_same_for_the_same_seed():
    vectors = clustered(3_000)
    first = build_vector_index(vectors, "IVF32,SQ8", seed=5)
    second = build_vector_index(vectors, "IVF32,SQ8", seed=5)
    np.testing.assert_array_equal(faiss.serialize_index(first), faiss.serialize_index(second))


def test_hnsw_search_parameters_survive_writing(tmp_path: Path):
    index = build_vector_index(unit_rows(300), "HNSW32")
    write_vector_index(index, tmp_path / "chunks.faiss", expected=300)
    read = read_vector_index(tmp_path / "chunks.faiss")
    assert read.hnsw.efSearch == search_parameters(read)["efSearch"]


def test_flat_reconstruct_is_exact_and_shaped():
    vectors = unit_rows(50)
    index = build_vector_index(vectors, "Flat")
    np.testing.assert_array_equal(reconstruct(index, np.array([7, 3, 7])), vectors[[7, 3, 7]])
    assert reconstruct(index, np.array([], dtype=np.int64)).shape == (0, DIMENSION)
    assert reconstruct(index, np.array([1])).dtype == np.float32


def test_mmap_read_searches_like_a_full_read(tmp_path: Path):
    vectors = unit_rows(200)
    write_vector_index(build_vector_index(vectors, "Flat"), tmp_path / "v.faiss", expected=200)
    loaded = prepare_for_search(read_vector_index(tmp_path / "v.faiss"))
    mapped = prepare_for_search(read_vector_index(tmp_path / "v.faiss", mmap=True))
    for query in vectors[:3]:
        np.testing.assert_array_equal(search(mapped, query, 5)[1], search(loaded, query, 5)[1])
    np.testing.assert_array_equal(reconstruct(mapped, np.array([4])), vectors[[4]])


def test_tiny_segment_falls_back_to_exact_search():
    vectors = unit_rows(100)
    factory = choose_factory(len(vectors), "IVF1024,SQ8")
    index = build_vector_index(vectors, factory)
    assert isinstance(index, faiss.IndexFlat)
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT
    _, ids = search(index, vectors[42], 1)
    assert ids.tolist() == [42]


def test_build_refuses_auto_and_untrainable_sizes():
    with pytest.raises(ValueError, match="call choose_factory"):
        build_vector_index(unit_rows(10), AUTO)
    with pytest.raises(ValueError, match="needs at least 1024 vectors to train, got 100"):
        build_vector_index(unit_rows(100), "IVF1024,SQ8")


def test_damaged_or_missing_files_say_how_to_rebuild(tmp_path: Path):
    path = tmp_path / "chunks.faiss"
    with pytest.raises(IndexCorruptError, match="is missing; rebuild"):
        read_vector_index(path)
    write_vector_index(build_vector_index(unit_rows(100), "Flat"), path, expected=100)
    path.write_bytes(path.read_bytes()[:5_000])
    for mmap in (False, True):
        with pytest.raises(IndexCorruptError, match="truncated or damaged"):
            read_vector_index(path, mmap=mmap)


def test_write_checks_the_count(tmp_path: Path):
    with pytest.raises(IndexCorruptError, match="holds 10 vectors after writing, expected 11"):
        write_vector_index(build_vector_index(unit_rows(10), "Flat"), tmp_path / "v", 11)


@pytest.mark.parametrize("factory", ["Flat", "IVF64,SQ8"])
def test_a_streamed_build_equals_one_from_memory(factory: str) -> None:
    vectors = clustered(12_000)
    reads: list[tuple[int, int]] = []

    def read(start: int, end: int) -> Vectors:
        reads.append((start, end))
        return vectors[start:end]

    streamed = build_streamed(read, len(vectors), vectors.shape[1], factory, batch=5_000)
    whole = build_vector_index(vectors, factory)
    assert max(end - start for start, end in reads) <= 5_000
    queries = clustered(20, seed=3)
    assert np.array_equal(streamed.search(queries, 10)[1], whole.search(queries, 10)[1])
