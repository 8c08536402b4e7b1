"""A shard deployment seen as a :class:`~service.retrieval.coordinator.ShardClient`.

:class:`RayShardClient` wraps a Serve deployment handle of one shard and blocks on each
call; :class:`~service.retrieval.coordinator.ShardedRetriever` calls the shards from a
thread pool, so they are still asked side by side. A client is pinned to one generation,
as its retriever is.

Retry on replica death: the requests are read-only, so a call whose replica died under it
(its process killed, its node lost) is sent again, once; Serve's router has by then
dropped the dead replica and picks another. Serve itself does not resend a request that
reached a replica. Errors the shard raised (a :class:`~service.errors.ShardError`) arrive
as they were raised, and anything else, a timeout included, is left to the coordinator,
which fails the query with 503 naming the shard.
"""

from __future__ import annotations

from typing import Any

from service.errors import ShardError
from service.retrieval.shard import (
    ScoredPassage,
    ScoreRequest,
    SearchRequest,
    ShardInfo,
    ShardLists,
)

# One more try after a dead replica: with two replicas, the other answers.
RETRIES_ON_DEATH = 1


class RayShardClient:
    """Blocking calls to one shard's deployment, for one generation.

    Example:
        >>> handle = serve.get_deployment_handle("citeqa-shard-0", "citeqa")  # doctest: +SKIP
        >>> RayShardClient(handle, shard=0, generation=7).describe().shard  # doctest: +SKIP
        0
    """

    def __init__(self, handle: Any, shard: int, generation: int, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be greater than 0")
        self.handle = handle
        self.shard = shard
        self.generation = generation
        self.timeout_s = timeout_s

    def _call(self, method: str, *args: object) -> Any:
        from ray.exceptions import RayActorError, RayTaskError

        for attempt in range(RETRIES_ON_DEATH + 1):
            try:
                response = getattr(self.handle, method).remote(*args)
                return response.result(timeout_s=self.timeout_s)
            except RayActorError:
                if attempt == RETRIES_ON_DEATH:
                    raise
            except RayTaskError as error:
                # The shard's own error, picklable with its shard number.
                if isinstance(error.cause, ShardError):
                    raise error.cause from None
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def describe(self) -> ShardInfo:
        """Which shard and generation the deployment serves for this client's generation."""
        info: ShardInfo = self._call("describe", self.generation)
        return info

    def search(self, request: SearchRequest) -> ShardLists:
        """The shard's dense and BM25 top ``k``."""
        lists: ShardLists = self._call("search", request)
        return lists

    def score(self, request: ScoreRequest) -> tuple[ScoredPassage, ...]:
        """The shard's candidates filtered and re-scored."""
        scored: tuple[ScoredPassage, ...] = self._call("score", request)
        return scored

    def document_text(self, generation: int, doc_id: str) -> str:
        """The text of a document the shard holds."""
        text: str = self._call("document_text", generation, doc_id)
        return text
