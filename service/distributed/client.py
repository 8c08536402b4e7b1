"""A shard deployment seen as a :class:`~service.retrieval.shard.ShardClient`.

:class:`RayShardClient` wraps a Serve deployment handle of one shard. A submit sends the
request (``handle.remote``) and returns at once; the answer is awaited by ``result()``, so
:class:`~service.retrieval.retriever.Retriever` starts every shard's call before
it waits on any, from one thread. A client is pinned to one generation, as its retriever
is. Each call may take ``timeout_s`` from its submit.

Retry on replica death: the requests are read-only, so a call whose replica died under it
(its process killed, its node lost) is sent again, once; Serve's router has by then
dropped the dead replica and picks another. Serve itself does not resend a request that
reached a replica. Errors the shard raised (a :class:`~service.errors.ShardError`) arrive
as they were raised, and anything else, a timeout included, is left to the retriever,
which fails the query with 503 naming the shard.
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

from service.errors import ShardError
from service.retrieval.shard import (
    ScoredCandidates,
    ScoreRequest,
    SearchRequest,
    ShardInfo,
    ShardLists,
)

T = TypeVar("T")
# One more try after a dead replica: with two replicas, the other answers.
RETRIES_ON_DEATH = 1


class RayPending(Generic[T]):
    """One call to a shard deployment, sent; :meth:`result` waits for its answer."""

    def __init__(
        self, handle: Any, method: str, args: tuple[object, ...], timeout_s: float
    ) -> None:
        self._method = getattr(handle, method)
        self._args = args
        self._timeout_s = timeout_s
        self._send()

    def _send(self) -> None:
        self._deadline = time.monotonic() + self._timeout_s
        self._response = self._method.remote(*self._args)

    def result(self) -> T:
        """The shard's answer; its own error as raised, or the Ray error (a timeout too)."""
        from ray.exceptions import RayActorError, RayTaskError

        for attempt in range(RETRIES_ON_DEATH + 1):
            try:
                left = max(self._deadline - time.monotonic(), 0.0)
                answer: T = self._response.result(timeout_s=left)
                return answer
            except RayActorError:
                if attempt == RETRIES_ON_DEATH:
                    raise
                self._send()  # the router has dropped the dead replica by now
            except RayTaskError as error:
                # The shard's own error, picklable with its shard number.
                if isinstance(error.cause, ShardError):
                    raise error.cause from None
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")


class RayShardClient:
    """Calls to one shard's deployment, for one generation.

    Example (needs Ray Serve running, so not run as a doctest)::

        handle = serve.get_deployment_handle("citeqa-shard-0", "citeqa")
        RayShardClient(handle, shard=0, generation=7).describe().shard
        # -> 0
    """

    def __init__(self, handle: Any, shard: int, generation: int, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be greater than 0")
        # Requests and answers over Serve's direct gRPC channel to the replica, not as Ray
        # actor calls: four shards' calls at once, no work in them, took about twice as long
        # as actor calls (docs/scale-out.md, eval/RESULTS.md). Errors arrive as before: the
        # shard's own raised, an unreachable replica as a RayActorError.
        self.handle = handle.options(_by_reference=False)
        self.shard = shard
        self.generation = generation
        self.timeout_s = timeout_s

    def _submit(self, method: str, *args: object) -> RayPending[Any]:
        return RayPending(self.handle, method, args, self.timeout_s)

    def describe(self) -> ShardInfo:
        """Which shard and generation the deployment serves for this client's generation."""
        info: ShardInfo = self.submit_describe().result()
        return info

    def submit_describe(self) -> RayPending[ShardInfo]:
        """Send :meth:`describe`'s request (no work: a round trip's own cost)."""
        return self._submit("describe", self.generation)

    def submit_search(self, request: SearchRequest) -> RayPending[ShardLists]:
        """Send the request for the shard's dense and BM25 top ``k``."""
        return self._submit("search", request)

    def submit_score(self, request: ScoreRequest) -> RayPending[ScoredCandidates]:
        """Send the shard's candidates to be filtered and re-scored."""
        return self._submit("score", request)

    def document_text(self, generation: int, doc_id: str) -> str:
        """The text of a document the shard holds."""
        text: str = self._submit("document_text", generation, doc_id).result()
        return text
