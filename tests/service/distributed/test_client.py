"""RayShardClient without a cluster: a fake deployment handle that answers, dies or hangs."""

from __future__ import annotations

import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import pytest
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

from service.distributed.client import RayShardClient
from service.errors import ShardGenerationError
from service.retrieval.shard import RankedChunks, SearchRequest, ShardLists

EMPTY = RankedChunks.of([])
LISTS = ShardLists(0, EMPTY, EMPTY)


class _Response:
    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def result(self, timeout_s: float) -> object:
        if self.outcome == "hang":
            time.sleep(timeout_s)
            raise FutureTimeout
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class _Method:
    def __init__(self, outcomes: list[object]) -> None:
        self.outcomes = outcomes
        self.sent = 0

    def remote(self, *args: Any) -> _Response:  # noqa: ARG002
        self.sent += 1
        return _Response(self.outcomes.pop(0))


class _Handle:
    def __init__(self, outcomes: list[object]) -> None:
        self.search = _Method(outcomes)
        self.by_reference = True

    def options(self, *, _by_reference: bool) -> _Handle:
        self.by_reference = _by_reference
        return self


def _request() -> SearchRequest:
    return SearchRequest(1, "mexico", None, 5, "bm25")


def test_a_call_is_sent_on_submit_and_awaited_on_result() -> None:
    handle = _Handle([LISTS])
    pending = RayShardClient(handle, 0, 1, timeout_s=1).submit_search(_request())
    assert handle.search.sent == 1
    assert pending.result() == LISTS
    assert not handle.by_reference  # Serve's gRPC channel, not Ray actor calls


def test_a_call_whose_replica_died_is_sent_once_more() -> None:
    # Over gRPC an unreachable replica is an ActorUnavailableError, a RayActorError too.
    handle = _Handle([ActorUnavailableError("gone", None), LISTS])
    assert RayShardClient(handle, 0, 1, timeout_s=1).submit_search(_request()).result() == LISTS
    assert handle.search.sent == 2
    dead = _Handle([ActorDiedError(), ActorDiedError()])
    with pytest.raises(ActorDiedError):
        RayShardClient(dead, 0, 1, timeout_s=1).submit_search(_request()).result()


def test_a_shard_error_arrives_as_raised() -> None:
    error = ShardGenerationError("shard 0 serves generation 2", shard=0)
    handle = _Handle([RayTaskError("search", "traceback", error)])  # type: ignore[no-untyped-call]
    with pytest.raises(ShardGenerationError, match="generation 2") as caught:
        RayShardClient(handle, 0, 1, timeout_s=1).submit_search(_request()).result()
    assert caught.value.shard == 0


def test_the_timeout_runs_from_the_submit() -> None:
    pending = RayShardClient(_Handle(["hang"]), 0, 1, timeout_s=0.2).submit_search(_request())
    time.sleep(0.15)  # another shard's answer awaited first
    started = time.monotonic()
    with pytest.raises(FutureTimeout):
        pending.result()
    assert time.monotonic() - started < 0.15
