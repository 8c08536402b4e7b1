"""Read a served index's files once, in the background, so its first queries find them cached.

Queries touch the memory-mapped sentence vectors, the term arrays and the SQLite stores at
scattered places. On a fresh start each first touch is a read from disk, which on a large
index shows in the tail of a new server's first queries (eval/RESULTS.md). One sequential
read of each file costs far less than those scattered page faults. What it
fills is the kernel's file cache, not the process's memory: those pages go first when memory
runs short, and an index larger than half the available memory is not read at all, so
warming never pushes out what the rest of the machine needs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from indexer.segment import VECTORS

log = logging.getLogger("citeqa")

WarmState = Literal["warming", "warm", "off"]
BLOCK_BYTES = 64 << 20
# At most this share of the memory available when the server starts is read ahead.
MEMORY_SHARE = 0.5
MEMINFO = Path("/proc/meminfo")


def available_memory(meminfo: Path = MEMINFO) -> int | None:
    """Bytes of memory available to new work (Linux's MemAvailable), or None if unknown."""
    try:
        lines = meminfo.read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name == "MemAvailable":
            return int(value.split()[0]) * 1024
    return None


def segment_files(folders: Iterable[Path]) -> list[Path]:
    """The files queries read from these segment folders. The FAISS index is left out:
    loading a segment already reads it whole into memory."""
    files = []
    for folder in folders:
        files += sorted(p for p in folder.rglob("*") if p.is_file() and p.name != VECTORS)
    return files


class PageCacheWarmer:
    """Reads ``files`` once on a daemon thread; ``state`` says whether it has finished."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.bytes_read = 0
        self.seconds = 0.0
        self._done = threading.Event()

    @property
    def state(self) -> WarmState:
        """Warming until every file was read, then warm."""
        return "warm" if self._done.is_set() else "warming"

    def start(self) -> PageCacheWarmer:
        """Start reading; returns at once."""
        threading.Thread(target=self._run, name="page-cache", daemon=True).start()
        return self

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until every file was read (or ``timeout_s`` passed); whether it finished."""
        return self._done.wait(timeout_s)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            with open(os.devnull, "wb", buffering=0) as sink:
                for path in self.files:
                    try:
                        self.bytes_read += _read_into_cache(path, sink.fileno())
                    except OSError as error:
                        # A merge may have removed an old segment's files: nothing to warm.
                        log.debug("page cache: not reading %s (%s)", path, error)
        finally:
            self.seconds = time.perf_counter() - started
            self._done.set()
        log.info(
            "page cache warm: read %.0f MB of index files in %.1f s",
            self.bytes_read / 1e6,
            self.seconds,
        )


def _read_into_cache(path: Path, sink: int) -> int:
    """Read ``path`` once; how many bytes were read.

    ``sendfile`` to /dev/null brings the pages into the cache without copying them to this
    process, so it takes far less CPU from the queries it runs beside than reading them
    (eval/RESULTS.md). Where the system cannot send a file to /dev/null, it is read.
    """
    send = getattr(os, "sendfile", None)  # not on every platform
    with path.open("rb", buffering=0) as file:
        size = os.fstat(file.fileno()).st_size
        done = 0
        if send is not None:
            try:
                while done < size and (sent := send(sink, file.fileno(), done, BLOCK_BYTES)):
                    done += sent
                return done
            except OSError:
                pass  # read what is left instead
        block = bytearray(BLOCK_BYTES)
        file.seek(done)
        while read := file.readinto(block):  # the GIL is released meanwhile
            done += read
        return done


def warm_page_cache(
    folders: Iterable[Path], available: int | None = None
) -> PageCacheWarmer | None:
    """Start reading the segment ``folders``' files in the background; None when they are
    more than :data:`MEMORY_SHARE` of the ``available`` memory (default: the machine's), or
    that is unknown."""
    files = segment_files(folders)
    total = sum(path.stat().st_size for path in files)
    available = available_memory() if available is None else available
    if available is None or total > MEMORY_SHARE * available:
        log.info(
            "page cache: not reading the index's %.0f MB ahead (%s MB available)",
            total / 1e6,
            "unknown" if available is None else f"{available / 1e6:.0f}",
        )
        return None
    return PageCacheWarmer(files).start()
