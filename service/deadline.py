"""A deadline on query work: the client gets 504 in time, whatever the work does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from service.errors import QueryTimeoutError

T = TypeVar("T")


def _discard(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as lost


async def run_with_deadline(work: Callable[[], T], timeout_s: float) -> T:
    """Run ``work`` in the thread pool; raise :class:`QueryTimeoutError` after ``timeout_s``.

    A thread cannot be stopped: work past its deadline runs on to its end, holding what it
    holds (its generation's lease, a pool thread), but no client waits for it.
    """
    task = asyncio.ensure_future(run_in_threadpool(work))
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        task.add_done_callback(_discard)
        raise QueryTimeoutError(
            f"the answer took longer than {timeout_s:g} s (CITEQA_QUERY_TIMEOUT_S); the server "
            "is busy or the question too broad: retry, or ask with a smaller top_k"
        ) from None
