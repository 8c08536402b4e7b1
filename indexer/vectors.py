"""FAISS vector index: exact inner product by default, HNSW for large corpora."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from citeqa.types import IndexType
from indexer.embedding import Vectors
from indexer.errors import IndexCorruptError

HNSW_NEIGHBOURS = 32


def build_vector_index(vectors: Vectors, index_type: IndexType) -> Any:
    """Build an inner-product index; on normalised vectors the score is cosine similarity."""
    dimension = vectors.shape[1]
    index: Any
    if index_type == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        raise ValueError(f"unknown FAISS index type {index_type!r}; use 'flat' or 'hnsw'")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_vector_index(index: Any, path: Path, expected: int) -> None:
    """Write and re-read the index: FAISS reports disk errors only on stderr."""
    faiss.write_index(index, str(path))
    written = read_vector_index(path)
    if written.ntotal != expected:
        raise IndexCorruptError(
            f"{path} holds {written.ntotal} vectors after writing, expected {expected}; "
            "check free disk space and retry"
        )


def read_vector_index(path: Path) -> Any:
    """Read a FAISS index, or raise IndexCorruptError saying how to rebuild."""
    if not path.exists():
        raise IndexCorruptError(f"{path} is missing; rebuild with `citeqa index build`")
    try:
        return faiss.read_index(str(path))
    except RuntimeError as error:
        raise IndexCorruptError(
            f"{path} cannot be read ({str(error).splitlines()[0]}); the file is truncated or "
            "damaged: rebuild with `citeqa index build`"
        ) from error
