"""Keep every core busy during a build: spaCy and the embedding model side by side.

On a small CPU torch's own intra-op threads scale poorly: two of them encode well short of
twice as fast as one, while two single-threaded encodes in parallel threads come close to
it, and spaCy's parser and NER release the GIL. ONNX Runtime does the same: one session with one
intra-op thread, called from two threads at once (it releases the GIL), beat one call on two
threads. So a build runs ``workers`` threads, each encode on one thread: one cleans, chunks
and annotates the documents a group at a time while the others embed what it has queued.
Measured with ``python -m eval.bench.index_throughput``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from indexer.embedding import Embedder, Vectors

# Batch size inside each single-threaded encode: small batches stay in cache, and one
# thread encodes batches of 16 faster than batches of 64 (eval/RESULTS.md; two threads show
# no difference), so slices of 64 texts go through in four batches.
THREAD_BATCH = 16


def default_workers() -> int:
    """Threads for a build: the cores, at most four."""
    # Beyond four threads the GIL, not the cores, limits a single process.
    return max(1, min(4, os.cpu_count() or 1))


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Set torch's intra-op threads for the block, then restore them."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SlicedEncoder:
    """Queues texts on a pool in batch-sized slices, longest first, and reassembles them."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        embedder: Embedder,
        workers: int,
        on_encoded: Callable[[int], object] | None = None,
    ) -> None:
        self._pool = pool
        self._workers = workers
        self._embedder = embedder
        self._on_encoded = on_encoded

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self._embedder.encode_documents(texts, batch_size=THREAD_BATCH)
        if self._on_encoded is not None:
            self._on_encoded(len(texts))
        return vectors

    def submit(self, texts: list[str]) -> Callable[[], Vectors]:
        """Queue ``texts``; the returned function waits and gives vectors in input order."""
        # Longest first: slices of similar length pad little, and the slow ones start early.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        # A few texts are still shared out over every worker instead of filling one batch.
        size = max(1, min(self._embedder.batch_size, -(-len(texts) // self._workers)))
        slices: list[tuple[list[int], Future[Vectors]]] = []
        for begin in range(0, len(order), size):
            positions = order[begin : begin + size]
            future = self._pool.submit(self._encode, [texts[i] for i in positions])
            slices.append((positions, future))

        def gather() -> Vectors:
            vectors = np.zeros((len(texts), self._embedder.dimension), dtype=np.float32)
            for positions, future in slices:
                vectors[positions] = future.result()
            return vectors

        return gather
