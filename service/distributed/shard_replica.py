"""The body of a shard deployment: one shard's searchers, opened by the generation asked for.

A Ray Serve replica of shard ``k`` is a :class:`ShardReplica`. Every request names the
generation the ingress planned it on (see :mod:`service.retrieval.shard`), and the replica
answers it from a searcher of exactly that generation, opening it on first use. So a new
generation reaches the replicas without a restart: the ingress notices CURRENT changed (the
check the single-process service does), loads it, and its first query opens it here. The
ingress keeps its generation open (a reader lease), so the folder a request names is still
on disk; an older one that a writer removed is refused with
:class:`~service.errors.ShardGenerationError`, never answered from another manifest.

This module imports no Ray: the replica logic is tested in one process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from indexer.errors import IndexerError
from indexer.generations import current_generation, generation_folders, generation_number
from indexer.index import Index
from service.errors import ShardGenerationError
from service.retrieval.shard import (
    ScoredCandidates,
    ScoreRequest,
    SearchRequest,
    ShardInfo,
    ShardLists,
    ShardSearcher,
)

# The generation being served and the one before it: queries planned just before a switch
# still finish on theirs, and older ones are closed so a writer may prune them.
GENERATIONS_KEPT = 2


def _single_threaded_search() -> None:
    """Search with one OpenMP thread, as the single-process service does (service.state).

    Not for speed alone: FAISS's scores differ in the last bits with its thread count (a
    flat search of 20,000 vectors, measured by eval/bench/fan_out.py), and a shard must
    score exactly as the single process for the merge to give the same passages. Ray sets
    ``OMP_NUM_THREADS=1`` in workers with fractional CPUs; this does not rely on it.
    """
    import faiss

    faiss.omp_set_num_threads(1)


class ShardReplica:
    """Serves shard ``shard`` of whichever generation of ``index_dir`` a request names.

    Example (needs a built index, so not run as a doctest)::

        replica = ShardReplica("data/index", shard=1)
        replica.describe(7).shard
        # -> 1
    """

    def __init__(self, index_dir: str | Path, shard: int) -> None:
        if shard < 0:
            raise ValueError("shard must be 0 or more")
        self.index_dir = Path(index_dir)
        self.shard = shard
        _single_threaded_search()
        self._lock = threading.Lock()
        self._searchers: OrderedDict[int, ShardSearcher] = OrderedDict()
        # Open the current generation now, so that a replica that cannot read its shard
        # fails to start (and Serve says so) instead of failing its first query.
        self.searcher(generation_number(current_generation(self.index_dir)))

    def searcher(self, generation: int) -> ShardSearcher:
        """This shard's searcher of ``generation``, opened if it is not yet."""
        with self._lock:
            found = self._searchers.get(generation)
            if found is None:
                found = self._open(generation)
                self._searchers[generation] = found
                while len(self._searchers) > GENERATIONS_KEPT:
                    _, oldest = self._searchers.popitem(last=False)
                    oldest.close()
            return found

    def _open(self, generation: int) -> ShardSearcher:
        folders = [
            f for f in generation_folders(self.index_dir) if generation_number(f) == generation
        ]
        try:
            if not folders:
                raise FileNotFoundError(f"no generation {generation} in {self.index_dir}")
            searcher = ShardSearcher(Index(folders[0], None, self.shard))
        except (FileNotFoundError, IndexerError) as error:
            raise ShardGenerationError(
                f"shard {self.shard} cannot open generation {generation} ({error}); "
                "retry the query on the current generation",
                shard=self.shard,
            ) from error
        if searcher.info.generation != generation:
            searcher.close()
            raise ShardGenerationError(
                f"shard {self.shard}: folder of generation {generation} holds generation "
                f"{searcher.info.generation}; rebuild the index",
                shard=self.shard,
            )
        return searcher

    def describe(self, generation: int) -> ShardInfo:
        """Which shard this is, in ``generation``."""
        return self.searcher(generation).describe()

    def search(self, request: SearchRequest) -> ShardLists:
        """This shard's top lists, from the generation the request names."""
        return self.searcher(request.generation).search(request)

    def score(self, request: ScoreRequest) -> ScoredCandidates:
        """This shard's candidates re-scored, in the generation the request names."""
        return self.searcher(request.generation).score(request)

    def document_text(self, generation: int, doc_id: str) -> str:
        """A document's text, from ``generation``."""
        return self.searcher(generation).document_text(generation, doc_id)

    def generations(self) -> list[int]:
        """The generations open here, oldest first (for tests and health checks)."""
        with self._lock:
            return list(self._searchers)

    def close(self) -> None:
        """Close every searcher."""
        with self._lock:
            for searcher in self._searchers.values():
                searcher.close()
            self._searchers.clear()
