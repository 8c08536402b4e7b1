"""API writes on a thread of their own, so that writes waiting their turn never hold the
threads that serve reads.

FastAPI runs every synchronous route on one shared pool of threads. A write that waits for
the index's writer lock (held by `citeqa index add` in another process, say) would hold one
of those threads the whole time, and enough queued writes would leave none for
``/healthz`` or ``/v1/query``. Here a queued write is a future, not a thread: writes run one
at a time on one thread (they are serialised by the writer lock anyway), each waits at most
``wait_s`` for its turn, the lock included, then fails with 503 and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from service.errors import WriteBusyError

T = TypeVar("T")


class WriteQueue:
    """Runs writes one at a time, off the request thread pool, each with a bounded wait.

    Args:
        wait_s: How long a write may wait for its turn and the writer lock (seconds).
        max_queued: Writes waiting or running at once; one more is refused at once.
    """

    def __init__(self, wait_s: float, max_queued: int) -> None:
        if wait_s < 0:
            raise ValueError("wait_s must not be negative")
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self.wait_s = wait_s
        self.max_queued = max_queued
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citeqa-write")
        self._queued = 0  # only touched on the event loop

    def _busy(self, why: str) -> WriteBusyError:
        error = WriteBusyError(
            f"the index is busy: {why}; retry in a few seconds (CITEQA_HTTP_WRITE_WAIT_S "
            "sets how long a write waits)"
        )
        error.retry_after_s = max(1, round(self.wait_s))
        return error

    async def run(self, write: Callable[[float], T]) -> T:
        """Run ``write(seconds_left)`` in turn; it must wait for the lock at most that long.

        Raises:
            WriteBusyError: too many writes are queued, or this one's turn did not come
                within ``wait_s``.
        """
        if self._queued >= self.max_queued:
            raise self._busy(f"{self._queued} writes are already queued")
        deadline = time.monotonic() + self.wait_s

        def in_turn() -> T:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._busy(f"the writes before this one took over {self.wait_s:g} s")
            return write(left)

        self._queued += 1
        try:
            # Cancelled with its request (a client that hangs up): a write not yet started
            # is dropped from the queue.
            return await asyncio.wrap_future(self._pool.submit(in_turn))
        finally:
            self._queued -= 1

    def close(self) -> None:
        """Finish the write under way, drop the queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)
