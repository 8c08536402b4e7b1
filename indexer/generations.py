"""Index generations: each write makes a new folder, then one atomic rename makes it current.

Layout::

    INDEX_DIR/CURRENT            name of the live generation (replaced atomically)
    INDEX_DIR/generations/g000007/{manifest.json, stats.txt, stats_keys.npy, stats_df.npy}
    INDEX_DIR/generations/.tmp-*  a write in progress (or one killed mid-way: removed later)
    INDEX_DIR/segments/s000012/   an immutable segment (indexer.segment), shared by every
                                  generation whose manifest names it
    INDEX_DIR/segments/.tmp-*     a segment being written

A process killed at any moment leaves CURRENT naming a complete, verified generation. What a
killed write leaves behind (a temp folder, a generation folder that CURRENT never named, a
``CURRENT.*.tmp`` file, a segment no kept generation names) is garbage, removed by
:func:`collect_garbage` at the next write.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import get_args

from citeqa.errors import CiteqaError
from citeqa.types import WriteStep
from indexer.errors import IndexCorruptError, IndexDiskFullError, IndexNotFoundError
from indexer.locks import remove_if_unread
from indexer.manifest import MANIFEST_NAME

CURRENT = "CURRENT"
GENERATIONS = "generations"
TEMP_PREFIX = ".tmp-"
SEGMENTS = "segments"
# In each generation folder: the names of the segments its manifest lists, one a line.
SEGMENT_LIST = "segments.txt"

WRITE_STEPS: tuple[str, ...] = get_args(WriteStep)
Checkpoint = Callable[[str], None]
# Below this much free space, a failed write is taken for a full disk (see is_disk_full).
_NEARLY_FULL_BYTES = 1 << 20


def no_fault(step: str) -> None:
    """The checkpoint of a normal write: every step passes."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rename_into_place(source: Path, target: Path) -> None:
    """Rename a finished folder to its final name, durably.

    The rename is an entry in the parent folder: until the parent is flushed, a power cut
    can forget it even though every file inside was flushed.
    """
    os.rename(source, target)
    _fsync_dir(target.parent)


def current_name(index_dir: Path) -> str:
    """The name CURRENT holds ("g000007"), or "" when there is none."""
    try:
        return (index_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return ""


def current_generation(index_dir: Path) -> Path:
    """The folder of the live generation, or :class:`IndexNotFoundError`."""
    name = current_name(index_dir)
    if not name and not (index_dir / CURRENT).exists():
        raise IndexNotFoundError(
            f"no index in {index_dir}: build one with "
            f"`citeqa index build --source seeds --index-dir {index_dir}`"
        )
    folder = index_dir / GENERATIONS / name
    if not name or not folder.is_dir():
        raise IndexNotFoundError(
            f"{index_dir / CURRENT} names generation {name!r}, which is missing; rebuild with "
            "`citeqa index build`"
        )
    return folder


def is_generation_name(name: str) -> bool:
    """True for a generation folder's name: ``g`` and digits."""
    return len(name) > 1 and name[0] == "g" and name[1:].isdigit()


def generation_number(folder: Path) -> int:
    """The number in a generation folder's name (``g12`` is 12)."""
    return int(folder.name.lstrip("g"))


def generation_folders(index_dir: Path) -> list[Path]:
    """Every generation folder, published or orphaned, oldest first."""
    root = index_dir / GENERATIONS
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if is_generation_name(p.name) and p.is_dir()),
        key=generation_number,
    )


def next_generation_number(index_dir: Path) -> int:
    """One more than any generation folder or CURRENT names: never an existing folder."""
    numbers = [generation_number(p) for p in generation_folders(index_dir)]
    name = current_name(index_dir)
    if is_generation_name(name):
        numbers.append(int(name[1:]))
    return max(numbers, default=0) + 1


def is_disk_full(error: BaseException, folder: Path) -> bool:
    """Whether a write into ``folder`` failed because its disk is full.

    SQLite and the OS say so; FAISS writes through C stdio and only a short file shows it
    (an :class:`IndexCorruptError` on re-reading), so then the free space decides.
    """
    if not isinstance(error, Exception):  # an interrupt is not a disk error
        return False
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, sqlite3.Error) and error.sqlite_errorcode == sqlite3.SQLITE_FULL:
        return True
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def raise_if_disk_full(error: BaseException, index_dir: Path) -> None:
    """Raise :class:`IndexDiskFullError` from ``error`` when a write into ``index_dir``
    failed because its disk is full (see :func:`is_disk_full`); else do nothing.
    """
    # A refusal (a locked index, an unknown id) is not a disk error on a nearly full
    # disk; a short file read back (IndexCorruptError) may be.
    refusal = isinstance(error, CiteqaError) and not isinstance(error, IndexCorruptError)
    if refusal or not is_disk_full(error, index_dir):
        return
    live = current_name(index_dir)
    served = f"still serves {live}" if live else "has no generation yet"
    raise IndexDiskFullError(
        f"no space left on the disk of {index_dir} ({error}); nothing was published "
        f"and the index {served}: free some space and retry"
    ) from error


def new_temp_folder(index_dir: Path) -> Path:
    """Make a fresh temporary folder for a generation being written."""
    folder = index_dir / GENERATIONS / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder``, and the folders themselves, to disk."""
    for item in folder.rglob("*"):
        if item.is_file():
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
    for item in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(item)


def is_segment_name(name: str) -> bool:
    """True for a segment folder's name: ``s`` and digits."""
    return len(name) > 1 and name[0] == "s" and name[1:].isdigit()


def next_segment_number(index_dir: Path) -> int:
    """One more than any segment folder's number."""
    root = index_dir / SEGMENTS
    names = [p.name for p in root.iterdir()] if root.is_dir() else []
    return max((int(n[1:]) for n in names if is_segment_name(n)), default=0) + 1


def _named_segments(folder: Path) -> set[str]:
    """The segments a generation's manifest names (none when it cannot be read)."""
    try:
        # The short list beside the manifest: a manifest grows with the chunks (a large
        # corpus's is tens of MB of JSON), and every write reads every kept generation's list.
        return set((folder / SEGMENT_LIST).read_text().split())
    except OSError:
        pass
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text())
        return {str(entry["name"]) for entry in manifest.get("segments", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def publish(
    index_dir: Path, temp_folder: Path, number: int, checkpoint: Checkpoint = no_fault
) -> Path:
    """Rename a finished temp folder into place, then point CURRENT at it atomically."""
    fsync_tree(temp_folder)
    final = index_dir / GENERATIONS / f"g{number:06d}"
    rename_into_place(temp_folder, final)
    checkpoint("after-rename")
    pointer_temp = index_dir / f"{CURRENT}.{uuid.uuid4().hex}.tmp"
    with open(pointer_temp, "w") as handle:
        handle.write(final.name)
        handle.flush()
        os.fsync(handle.fileno())
    checkpoint("before-current")
    os.replace(pointer_temp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    checkpoint("after-current")
    return final


def collect_garbage(index_dir: Path, keep: int) -> list[Path]:
    """Remove what killed writes left, and generations older than the ``keep`` newest.

    Garbage: ``.tmp-*`` folders, ``CURRENT.*.tmp`` files, and every generation folder that
    CURRENT does not name, except the ``keep - 1`` newest ones older than the live one, and
    except any that a live process still reads (it holds a reader lease: a later write
    removes it). Call it only while holding the writer lock: a temp folder may be another
    writer's work in progress. Returns what was removed.
    """
    root = index_dir / GENERATIONS
    removed: list[Path] = []
    for stale in index_dir.glob(f"{CURRENT}.*.tmp"):
        stale.unlink(missing_ok=True)
        removed.append(stale)
    if not root.is_dir():
        return removed
    for stale in root.glob(f"{TEMP_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
        removed.append(stale)
    live = current_name(index_dir)
    live_number = int(live[1:]) if is_generation_name(live) else 0
    older = [p for p in generation_folders(index_dir) if generation_number(p) < live_number]
    kept = set(older[-(keep - 1) :] if keep > 1 else [])
    for folder in generation_folders(index_dir):
        if folder.name != live and folder not in kept and remove_if_unread(folder):
            removed.append(folder)
    return removed + _collect_segments(index_dir)


def _collect_segments(index_dir: Path) -> list[Path]:
    """Remove segment temp folders, and segments that no remaining generation names.

    A generation a reader still leases was kept above, so its segments stay too.
    """
    root = index_dir / SEGMENTS
    if not root.is_dir():
        return []
    named: set[str] = set()
    for folder in generation_folders(index_dir):
        named |= _named_segments(folder)
    removed = []
    for item in root.iterdir():
        if item.name.startswith(TEMP_PREFIX) or (
            is_segment_name(item.name) and item.name not in named
        ):
            shutil.rmtree(item, ignore_errors=True)
            removed.append(item)
    return removed
