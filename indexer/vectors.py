"""FAISS vector indexes for one segment: chosen by size, built, searched, written and read.

Vectors are unit-length float32 rows and the metric is inner product, so a score is a
cosine similarity. Each segment has its own index, whose type is a FAISS factory string
(``CITEQA_FAISS_INDEX``): ``auto`` picks one by the segment's size (:func:`choose_factory`),
anything else is used as given, except that a segment too small to train it is exact.

The rule and its measurements are in ``eval/VECTOR_INDEX.md``
(``python -m eval.bench.vector_index``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from indexer.embedding import Vectors
from indexer.errors import IndexCorruptError

AUTO = "auto"
SETTING = "CITEQA_FAISS_INDEX"
# all-MiniLM-L6-v2's width; a factory is checked against it unless told another.
DIMENSION = 384
EXAMPLES = "'auto' (by size), 'Flat' (exact), 'HNSW32', 'IVF1024,SQ8' or 'IVF16384_HNSW32,SQ8'"
# The names CITEQA_FAISS_INDEX_TYPE took before factory strings, and manifests still hold.
ALIASES = {"flat": "Flat", "hnsw": "HNSW32"}

# The rule for "auto" (eval/VECTOR_INDEX.md): exact up to EXACT_UP_TO rows, where one
# exact search on one thread is still cheap next to the rest of a query; above, an
# inverted file of int8 codes.
EXACT_UP_TO = 50_000
# Below this many vectors a segment stays exact even in a large corpus: 256 lists (the
# fewest the rule uses) need 39 rows each to train, and such a segment is soon merged.
MIN_APPROXIMATE = 10_000
# k-means wants 39 rows per centroid at least (FAISS warns below) and gains little above
# 256; a training sample of 64 per centroid, capped, keeps training time bounded.
MIN_ROWS_PER_CENTROID = 39
TRAINING_ROWS_PER_CENTROID = 64
MIN_TRAINING_ROWS = 65_536
MAX_TRAINING_ROWS = 262_144
# Lists probed per search, as a share of the lists, and the floor for small nlists:
# questions sit between clusters, so IVF must probe widely to find their neighbours.
NPROBE_SHARE = 1 / 8
MIN_NPROBE = 16
HNSW_EF_SEARCH = 128

# Memory-maps the codes of Flat, SQ, PQ and HNSW storage and IVF's inverted lists (checked
# on FAISS 1.15); a FAISS without IO_FLAG_MMAP_IFC maps IVF lists only, the rest is read.
MMAP_FLAGS: int = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP)

# FAISS's bundled stubs lack the search-parameter classes and DirectMap, which exist at
# run time: they are reached through this untyped name.
_faiss: Any = faiss
# "Error in <C++ signature> at /project/faiss/index_factory.cpp:1228: " before the reason.
_FAISS_LOCATION = re.compile(r"^Error in .* at \S+:\d+: ")

Scores = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]


def check_factory(factory: str, dimension: int = DIMENSION) -> str:
    """The factory string normalised (``auto``, an alias, or FAISS's own), or ValueError.

    >>> check_factory("Auto"), check_factory("flat"), check_factory(" IVF1024,SQ8 ")
    ('auto', 'Flat', 'IVF1024,SQ8')
    """
    name = factory.strip()
    if name.lower() == AUTO:
        return AUTO
    name = ALIASES.get(name.lower(), name)
    try:
        index = faiss.index_factory(dimension, name, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as error:
        reason = _faiss_reason(error)
        raise ValueError(
            f"{SETTING}={factory!r} is not a FAISS index factory string for {dimension}-d "
            f"vectors ({reason}); use {EXAMPLES}"
        ) from None
    # Segments number their vectors 0..n-1 by row; an ID map would need ids on every add.
    if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
        raise ValueError(f"{SETTING}={factory!r}: IDMap is not supported; use {EXAMPLES}")
    return name


def choose_factory(chunks: int, configured: str = AUTO, corpus: int = 0) -> str:
    """The factory for one segment of ``chunks`` vectors, in a corpus of ``corpus`` chunks.

    ``auto``: exact ("Flat") while the segment and the corpus hold at most
    :data:`EXACT_UP_TO` vectors: a query searches every segment, so what must stay fast is
    the corpus's exact search, not one segment's. Past that, ``IVF{nlist},SQ8`` with about
    ``4·sqrt(chunks)`` lists (see eval/VECTOR_INDEX.md), for every segment large enough to
    train one (:data:`MIN_APPROXIMATE` vectors); smaller ones stay exact, and merges fold
    them into larger ones. A configured factory is used as given, unless the segment has
    too few vectors to train it (fewer than 39 per IVF list or PQ centroid): such small
    segments are exact instead.

    >>> choose_factory(10_000), choose_factory(1_000_000), choose_factory(500, "IVF1024,SQ8")
    ('Flat', 'IVF4096,SQ8', 'Flat')
    >>> choose_factory(25_000, corpus=1_000_000), choose_factory(2_000, corpus=1_000_000)
    ('IVF512,SQ8', 'Flat')
    """
    if chunks < 0:
        raise ValueError(f"a segment cannot hold {chunks} vectors")
    name = check_factory(configured)
    if name == AUTO:
        if max(chunks, corpus) <= EXACT_UP_TO or chunks < MIN_APPROXIMATE:
            return "Flat"
        return f"IVF{auto_nlist(chunks)},SQ8"
    index = faiss.index_factory(DIMENSION, name, faiss.METRIC_INNER_PRODUCT)
    if chunks < _rows_to_train(index):
        return "Flat"
    return name


def auto_nlist(chunks: int) -> int:
    """Lists for ``chunks`` vectors: the power of two nearest 4·sqrt(chunks), 256 to 4096.

    Measured (eval/VECTOR_INDEX.md), more lists reach a recall with fewer codes scanned:
    at 100k vectors, 1024 lists need half the scan of 256. Training grows with the lists
    (k-means on 64 rows per list), so 4096 is the ceiling, where a million rows still build
    in minutes on one core, training included (eval/RESULTS.md).
    """
    power = round(math.log2(4 * math.sqrt(max(chunks, 1))))
    return int(min(max(2**power, 256), 4096))


def build_vector_index(vectors: Vectors, factory: str, seed: int = 0) -> Any:
    """An index of ``vectors`` (rows are ids) of type ``factory``, ready to search.

    Indexes that need training (IVF, SQ, PQ) are trained on a sample drawn with ``seed``,
    at most :data:`MAX_TRAINING_ROWS` rows, so the same input gives the same index and
    training time does not grow with the segment. Search parameters are set (see
    :func:`prepare_for_search`); FAISS writes them with the index.
    """
    name = check_factory(factory, vectors.shape[1])
    if name == AUTO:
        raise ValueError("build_vector_index needs a concrete factory: call choose_factory")
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.index_factory(rows.shape[1], name, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        needed = _rows_to_train(index) // MIN_ROWS_PER_CENTROID
        if len(rows) < max(needed, 1):
            raise ValueError(
                f"{name} needs at least {needed} vectors to train, got {len(rows)}; "
                "choose_factory picks Flat for such segments"
            )
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            ivf.cp.seed = seed  # k-means starts from seeded centroids
        index.train(_training_sample(rows, index, seed))
    if len(rows):
        index.add(rows)
    return prepare_for_search(index)


def _training_sample(rows: Vectors, index: Any, seed: int) -> Vectors:
    """A seeded sample, in row order, of 64 rows per centroid between the caps."""
    picked = _sample_rows(len(rows), index, seed)
    if picked is None:
        return rows
    return np.ascontiguousarray(rows[picked])


def _sample_rows(total: int, index: Any, seed: int) -> npt.NDArray[np.int64] | None:
    """Which rows train ``index`` (sorted), or None for all of them."""
    wanted = _rows_to_train(index) // MIN_ROWS_PER_CENTROID * TRAINING_ROWS_PER_CENTROID
    size = min(total, min(max(wanted, MIN_TRAINING_ROWS), MAX_TRAINING_ROWS))
    if size == total:
        return None
    return np.sort(np.random.default_rng(seed).choice(total, size=size, replace=False))


def build_streamed(
    read: Callable[[int, int], Vectors],
    total: int,
    dimension: int,
    factory: str,
    seed: int = 0,
    batch: int = 65_536,
) -> Any:
    """:func:`build_vector_index` for vectors read in batches (``read(start, end)`` returns
    those rows), so building a large segment never holds all its vectors at once."""
    name = check_factory(factory, dimension)
    if total <= batch:
        return build_vector_index(read(0, total), name, seed)
    index = faiss.index_factory(dimension, name, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            ivf.cp.seed = seed
        picked = _sample_rows(total, index, seed)
        parts = []
        for start in range(0, total, batch):
            rows = read(start, min(total, start + batch))
            if picked is None:
                parts.append(rows)
            else:
                inside = picked[(picked >= start) & (picked < start + len(rows))] - start
                parts.append(np.ascontiguousarray(rows[inside]))
        sample = np.concatenate(parts)
        del parts
        index.train(sample)
        del sample
    for start in range(0, total, batch):
        index.add(np.ascontiguousarray(read(start, min(total, start + batch)), np.float32))
    return prepare_for_search(index)


def _rows_to_train(index: Any) -> int:
    """Rows FAISS wants to train ``index`` well: 39 per IVF list or PQ centroid; 0 if none."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexPreTransform):
        return _rows_to_train(index.index)
    centroids = 1 if not index.is_trained else 0  # an SQ learns ranges from any rows
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        centroids = max(centroids, int(ivf.nlist))
    for part in (index, ivf, getattr(index, "storage", None)):
        quantizer = getattr(faiss.downcast_index(part), "pq", None) if part is not None else None
        if quantizer is not None:
            centroids = max(centroids, int(quantizer.ksub))
    return centroids * MIN_ROWS_PER_CENTROID if centroids > 1 else centroids


def search_parameters(index: Any) -> dict[str, int]:
    """The search parameters the rule gives ``index``: nprobe, efSearch, the quantizer's.

    IVF probes 1/8 of its lists, at least 16, which kept recall@10 against exact at
    0.95 or more on real and clustered vectors (eval/VECTOR_INDEX.md); an HNSW quantizer
    explores at least twice the lists it must return.
    """
    parameters: dict[str, int] = {}
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        nprobe = min(int(ivf.nlist), max(MIN_NPROBE, round(ivf.nlist * NPROBE_SHARE)))
        parameters["nprobe"] = nprobe
        if hasattr(faiss.downcast_index(ivf.quantizer), "hnsw"):
            parameters["quantizer_efSearch"] = max(HNSW_EF_SEARCH, 2 * nprobe)
    elif hasattr(faiss.downcast_index(_innermost(index)), "hnsw"):
        parameters["efSearch"] = HNSW_EF_SEARCH
    return parameters


def _innermost(index: Any) -> Any:
    """The index under pre-transforms and refinement, which holds the search structure."""
    index = faiss.downcast_index(index)
    while isinstance(index, faiss.IndexPreTransform | faiss.IndexRefine):
        index = faiss.downcast_index(index.index if hasattr(index, "index") else index.base_index)
    return index


def prepare_for_search(index: Any) -> Any:
    """Set the rule's search parameters and let IVF reconstruct rows; returns ``index``.

    The parameters are set by the rule rather than trusted from the file, so a segment
    written before a change of the rule is searched as the rule now says. IVF gets a
    direct map (8 bytes a vector) because :func:`reconstruct` looks rows up by id.
    """
    space = faiss.ParameterSpace()
    for name, value in search_parameters(index).items():
        space.set_index_parameter(index, name, value)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None and ivf.direct_map.type == _faiss.DirectMap.NoMap:
        ivf.make_direct_map()
    return index


@dataclass(frozen=True, eq=False)
class Deletions:
    """A segment's deleted rows, packed once for all its searches.

    :func:`search` takes a plain mask too, but packing it costs time on every query, in
    proportion to the rows: a segment whose tombstones change rarely keeps one of these.
    """

    mask: npt.NDArray[np.bool_]
    live_bits: npt.NDArray[np.uint8]  # bit i set: row i is live (FAISS's bitmap order)
    count: int

    @classmethod
    def of(cls, mask: npt.NDArray[np.bool_]) -> Deletions:
        """Pack a mask over the rows, True where deleted."""
        rows = np.asarray(mask, dtype=bool)
        return cls(rows, np.packbits(~rows, bitorder="little"), int(rows.sum()))


def search(
    index: Any,
    query: Vectors,
    k: int,
    deleted: npt.NDArray[np.bool_] | Deletions | None = None,
) -> tuple[Scores, Ids]:
    """The ``k`` best rows for one query vector: (scores, ids), best first.

    Rows marked in ``deleted`` (a mask over the index's rows, or its :class:`Deletions`)
    are never returned. Flat search is exact, deleted rows or not. Fewer than ``k`` come
    back when fewer rows are live (or, for approximate indexes, found); ids are never -1.
    """
    vector = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
    size = int(index.ntotal)
    k = min(k, size)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    if deleted is not None and not isinstance(deleted, Deletions):
        deleted = Deletions.of(deleted)
    if deleted is None or not deleted.count:
        scores, ids = index.search(vector, k)
        return _found(scores[0], ids[0])
    if len(deleted.mask) != size:
        raise ValueError(f"the deleted mask has {len(deleted.mask)} rows, the index {size}")
    # A selector skips deleted rows inside the search, so k live rows come back however
    # many are deleted; index types that take no selector over-fetch instead.
    selector = faiss.IDSelectorBitmap(size, faiss.swig_ptr(deleted.live_bits))
    try:
        scores, ids = index.search(vector, k, params=_selector_parameters(index, selector))
        return _found(scores[0], ids[0])
    except RuntimeError:
        scores, ids = index.search(vector, min(size, k + deleted.count))
        keep = ids[0] >= 0
        keep[keep] = ~deleted.mask[ids[0][keep]]
        return _found(scores[0][keep][:k], ids[0][keep][:k])


def _selector_parameters(index: Any, selector: Any) -> Any:
    """Search parameters with ``selector`` and the index's own nprobe or efSearch.

    FAISS reads every field of the parameters passed, so they must carry the index's
    settings: SearchParametersIVF() alone would probe one list.
    """
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        return _faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe, max_codes=ivf.max_codes)
    inner = faiss.downcast_index(index)
    if hasattr(inner, "hnsw"):
        return _faiss.SearchParametersHNSW(sel=selector, efSearch=inner.hnsw.efSearch)
    return _faiss.SearchParameters(sel=selector)


def _found(scores: npt.NDArray[Any], ids: npt.NDArray[Any]) -> tuple[Scores, Ids]:
    """Drop FAISS's -1 placeholders (fewer hits than k) and fix the dtypes."""
    keep = ids >= 0
    return scores[keep].astype(np.float32), ids[keep].astype(np.int64)


def reconstruct(index: Any, ids: Ids) -> Vectors:
    """The stored vectors of rows ``ids``: exact for Flat and HNSW, decoded for SQ and PQ."""
    wanted = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    if not len(wanted):
        return np.zeros((0, index.d), dtype=np.float32)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None and ivf.direct_map.type == _faiss.DirectMap.NoMap:
        ivf.make_direct_map()  # an index not passed through prepare_for_search
    return np.asarray(index.reconstruct_batch(wanted), dtype=np.float32)


def write_vector_index(index: Any, path: Path, expected: int) -> None:
    """Write and re-read the index: FAISS reports disk errors only on stderr.

    The re-read maps the file instead of loading it, so checking a large segment costs
    no memory; a truncated file still fails it.
    """
    faiss.write_index(index, str(path))
    written = read_vector_index(path, mmap=True)
    if written.ntotal != expected:
        raise IndexCorruptError(
            f"{path} holds {written.ntotal} vectors after writing, expected {expected}; "
            "check free disk space and retry"
        )


def read_vector_index(path: Path, mmap: bool = False) -> Any:
    """Read a FAISS index, or raise IndexCorruptError saying how to rebuild.

    With ``mmap`` the vectors stay in the file and the page cache, shared between
    processes, instead of the process's heap. Call :func:`prepare_for_search` before
    searching.
    """
    if not path.exists():
        raise IndexCorruptError(f"{path} is missing; rebuild with `citeqa index build`")
    try:
        return faiss.read_index(str(path), MMAP_FLAGS if mmap else 0)
    except RuntimeError as error:
        raise IndexCorruptError(
            f"{path} cannot be read ({_faiss_reason(error)}); the file is truncated or "
            "damaged: rebuild with `citeqa index build`"
        ) from error


def _faiss_reason(error: RuntimeError) -> str:
    """FAISS's message without its C++ function, source line and stack."""
    lines = str(error).splitlines()
    return _FAISS_LOCATION.sub("", lines[0]) if lines else type(error).__name__
