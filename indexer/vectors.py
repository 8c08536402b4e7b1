"""FAISS vector index of one segment (interim: exact only; the size rule lands separately)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from indexer.errors import IndexCorruptError

AUTO = "auto"


def check_factory(factory: str) -> str:
    """Validate a FAISS factory string."""
    return factory


def choose_factory(chunks: int, configured: str = AUTO) -> str:
    """The factory for one segment of ``chunks`` vectors."""
    return "Flat" if configured == AUTO else configured


def build_vector_index(vectors: npt.NDArray[np.float32], factory: str, seed: int = 0) -> Any:
    """Build an inner-product index of ``vectors`` with a FAISS factory string."""
    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def prepare_for_search(index: Any) -> Any:
    """Set search parameters after reading."""
    return index


def search(
    index: Any, query: npt.NDArray[np.float32], k: int, deleted: npt.NDArray[np.bool_] | None = None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Top ``k`` (scores, ids), best first, never a deleted row."""
    extra = int(deleted.sum()) if deleted is not None else 0
    fetch = min(k + extra, int(index.ntotal))
    if fetch <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), fetch)
    keep = ids[0] >= 0
    if deleted is not None:
        keep &= ~deleted[np.maximum(ids[0], 0)]
    return scores[0][keep][:k], ids[0][keep][:k].astype(np.int64)


def reconstruct(index: Any, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """The stored vectors of ``ids``."""
    if not len(ids):
        return np.zeros((0, index.d), np.float32)
    return np.asarray(index.reconstruct_batch(np.asarray(ids, dtype=np.int64)), np.float32)


def write_vector_index(index: Any, path: Path, expected: int) -> None:
    """Write and re-read the index: FAISS reports disk errors only on stderr."""
    faiss.write_index(index, str(path))
    written = read_vector_index(path)
    if written.ntotal != expected:
        raise IndexCorruptError(
            f"{path} holds {written.ntotal} vectors after writing, expected {expected}; "
            "check free disk space and retry"
        )


def read_vector_index(path: Path, mmap: bool = False) -> Any:
    """Read a FAISS index, or raise IndexCorruptError saying how to rebuild."""
    if not path.exists():
        raise IndexCorruptError(f"{path} is missing; rebuild with `citeqa index build`")
    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
    except RuntimeError as error:
        raise IndexCorruptError(
            f"{path} cannot be read ({str(error).splitlines()[0]}); the file is truncated or "
            "damaged: rebuild with `citeqa index build`"
        ) from error
