"""OS file locks that let several processes share one index directory safely.

- The **writer lock** (``INDEX_DIR/.lock``, exclusive): one writer at a time per index, in
  this process or any other (``citeqa index add`` beside ``citeqa serve``).
- A **reader lease** (``<generation>/.readers.lock``, shared): every process that has a
  generation loaded holds one, and a generation is removed only under an exclusive lock on
  the same file, taken without waiting. So a generation that any live process still reads is
  never deleted under it; it is removed by a later write once nobody holds it.

flock locks belong to an open file, not to a process, so a server's own writer cannot remove
the generation its queries read either.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.errors import IndexLockedError

WRITER_LOCK = ".lock"
READERS_LOCK = ".readers.lock"
_POLL_SECONDS = 0.1

log = logging.getLogger("citeqa.indexer")


def _holder(handle_fd: int) -> str:
    try:
        pid = os.pread(handle_fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return "another process"
    return f"process {pid}" if pid.isdigit() else "another process"


def _record_holder(fd: int) -> None:
    """Write our PID into the lock file, for the message of a writer that waits on us.

    Only a courtesy: on a full disk the write fails, and the lock (an flock, which needs no
    space) still holds. Failing here would make a full disk a crash instead of a clear
    "no space left" from the write itself, and would stop a server from starting.
    """
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        log.warning("cannot record the writer's PID in the lock file: %s", error)


@contextmanager
def writer_lock(index_dir: Path, timeout_s: float) -> Iterator[None]:
    """Hold the index's writer lock; wait up to ``timeout_s`` for another writer to finish.

    Raises:
        IndexLockedError: another writer still holds the lock after ``timeout_s`` seconds.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / WRITER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"{holder} is writing to {index_dir} (lock {path}) and did not finish "
                        f"within {timeout_s:g} s; retry when it is done, or raise "
                        "CITEQA_WRITER_LOCK_TIMEOUT_S"
                    ) from None
                if not told:
                    log.warning("waiting for %s, which is writing to %s", holder, index_dir)
                    told = True
                time.sleep(_POLL_SECONDS)
        _record_holder(fd)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class ReaderLease:
    """A shared lock on one generation folder, held while a process reads it."""

    def __init__(self, folder: Path) -> None:
        """Raises FileNotFoundError when ``folder`` is gone (or going) when the lease is taken."""
        self.folder = folder
        self._fd: int | None = os.open(folder / READERS_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
        # Blocks only while a writer is deleting this very folder; then the check below fails.
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        # A writer deletes under an exclusive lock: once this shared one is granted, the
        # folder is either whole or gone (at most our lock file is left in it).
        try:
            removed = not any(name != READERS_LOCK for name in os.listdir(folder))
        except FileNotFoundError:
            removed = True
        if removed:
            self.release()
            raise FileNotFoundError(errno.ENOENT, "generation removed while opening", folder)

    def release(self) -> None:
        """Give up the lease; a writer may then delete the folder."""
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the lock
            self._fd = None


def remove_if_unread(folder: Path) -> bool:
    """Delete a generation folder unless a reader holds a lease on it; True if deleted."""
    try:
        fd = os.open(folder / READERS_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)
    return True
