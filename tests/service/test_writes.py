"""The write queue: one write at a time, a bounded wait for each, a bounded queue."""

from __future__ import annotations

import asyncio
import threading

import pytest

from service.errors import WriteBusyError
from service.writes import WriteQueue


def test_a_write_whose_turn_does_not_come_in_time_is_refused_with_retry_after() -> None:
    queue = WriteQueue(wait_s=0.2, max_queued=8)
    release = threading.Event()
    seen: list[float] = []

    def slow(left: float) -> str:
        seen.append(left)
        release.wait(5)
        return "first"

    async def scenario() -> tuple[str | BaseException, str | BaseException]:
        first = asyncio.ensure_future(queue.run(slow))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(queue.run(lambda _left: "second"))
        await asyncio.sleep(0.4)  # past the second's deadline while the first still runs
        release.set()
        return await asyncio.gather(first, second, return_exceptions=True)

    first, second = asyncio.run(scenario())
    assert first == "first" and 0 < seen[0] <= 0.2
    assert isinstance(second, WriteBusyError) and second.retry_after_s == 1
    assert "CITEQA_HTTP_WRITE_WAIT_S" in str(second)
    queue.close()


def test_a_write_beyond_the_queue_cap_is_refused_at_once() -> None:
    queue = WriteQueue(wait_s=5, max_queued=1)
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.ensure_future(queue.run(lambda _left: release.wait(5)))
        await asyncio.sleep(0.05)
        with pytest.raises(WriteBusyError, match="1 writes are already queued"):
            await queue.run(lambda _left: None)
        release.set()
        assert await first is True

    asyncio.run(scenario())
    queue.close()
