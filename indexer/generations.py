"""Index generations: each write makes a new folder, then one atomic rename makes it current.

Layout::

    INDEX_DIR/CURRENT            name of the live generation (replaced atomically)
    INDEX_DIR/generations/g000007/{manifest.json, store.sqlite, chunks.faiss, ...}
    INDEX_DIR/generations/.tmp-*  a write in progress (or one killed mid-way: removed later)

A process killed at any moment leaves CURRENT naming a complete, verified generation.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.errors import IndexNotFoundError

CURRENT = "CURRENT"
GENERATIONS = "generations"
TEMP_PREFIX = ".tmp-"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_generation(index_dir: Path) -> Path:
    """The folder of the live generation, or :class:`IndexNotFoundError`."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError as error:
        raise IndexNotFoundError(
            f"no index in {index_dir}: build one with "
            f"`citeqa index build --source seeds --index-dir {index_dir}`"
        ) from error
    folder = index_dir / GENERATIONS / name
    if not name or not folder.is_dir():
        raise IndexNotFoundError(
            f"{pointer} names generation {name!r}, which is missing; rebuild with "
            "`citeqa index build`"
        )
    return folder


def generation_number(folder: Path) -> int:
    return int(folder.name.lstrip("g"))


def new_temp_folder(index_dir: Path) -> Path:
    folder = index_dir / GENERATIONS / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def publish(index_dir: Path, temp_folder: Path, number: int) -> Path:
    """Rename a finished temp folder into place, then point CURRENT at it atomically."""
    for item in temp_folder.rglob("*"):
        if item.is_file():
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
    final = index_dir / GENERATIONS / f"g{number:06d}"
    os.rename(temp_folder, final)
    _fsync_dir(final.parent)
    pointer_temp = index_dir / f"{CURRENT}.{uuid.uuid4().hex}.tmp"
    with open(pointer_temp, "w") as handle:
        handle.write(final.name)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_temp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    return final


def prune(index_dir: Path, keep: int) -> None:
    """Remove old generations (keeping ``keep``) and temp folders of killed writes."""
    root = index_dir / GENERATIONS
    if not root.is_dir():
        return
    for stale in root.glob(f"{TEMP_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    live = (index_dir / CURRENT).read_text().strip() if (index_dir / CURRENT).exists() else ""
    finished = sorted(p for p in root.iterdir() if p.name.startswith("g") and p.is_dir())
    for old in finished[:-keep]:
        if old.name != live:
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index directory (readers never wait)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
