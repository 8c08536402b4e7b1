"""The model cache's housekeeping (``CITEQA_MODEL_CACHE_DIR``): whole files, named by content,
marked when used and removed once unused for ``CITEQA_MODEL_CACHE_UNUSED_DAYS``.

Everything in the cache is made again when missing, and every piece is tens of megabytes:
embedder exports, the int8 reader, the reader's simplified graph and OpenVINO's compiled
blobs. A new reader or embedder, a recipe change or another OpenVINO configuration adds
files, and nothing used to take them away. Each use touches a file's modification time (or
its blob folder's, for a graph OpenVINO compiles), and each new file written prunes its
folder of what has gone unused, so a cache shared by several installs keeps what any of them
still uses.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citeqa.config import get_settings

log = logging.getLogger("citeqa")
SCRATCH_SUFFIX = ".onnx.tmp"
BLOBS_SUFFIX = ".blobs"
# The cache's own subfolders (OpenVINO's graphs and blobs); no other folder is looked into.
SUBFOLDERS = frozenset({"openvino"})
# What citeqa writes into the cache, by name: exports and kept graphs named by a 16-digit
# hash ("reader-acdfeb92a45d0226-r2-int8.onnx") and their OpenVINO blob folders (".blobs"),
# blobs that citeqa before 2026-12 left loose in openvino/ ("1062507693626443022.blob") and
# scratch files of writes ("tmpab12.onnx.tmp", and backend-choice.json's). Anything else
# (backend-choice.json, a file of the user's in a folder they chose as the cache) is kept.
_OURS = re.compile(
    r"-[0-9a-f]{16}-.*\.(onnx|blobs)$|-[0-9a-f]{16}\.onnx$|^\d+\.blob$|^tmp\w+\.(onnx|json)\.tmp$"
)
# A scratch file this old was left by a killed write: no export takes an hour.
STALE_SCRATCH_S = 3600.0
DAY_S = 86_400.0
# Hashes by (path, size, modification time): a large file is read once per process.
_hashes: dict[tuple[Path, int, int], str] = {}


@dataclass(frozen=True)
class Entry:
    """One file or blob folder of the cache; ``last_used`` is a Unix time."""

    path: Path
    size: int
    last_used: float


def file_hash(path: Path) -> str:
    """A short sha256 of ``path``'s bytes: names what is derived from it, so two installs (or
    two clones) of one model share the derived files."""
    stat = path.stat()
    key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()[:16]
    return _hashes[key]


def mark_used(path: Path) -> bool:
    """Touch ``path`` so pruning keeps it; whether it exists. A read-only cache is left as it
    is: its files are then kept by their age."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    except OSError:
        return path.exists()
    return True


def publish(target: Path, write: Callable[[str], object]) -> None:
    """Write into a scratch file beside ``target`` and rename: never half a model. Then prune
    ``target``'s folder of files unused for ``CITEQA_MODEL_CACHE_UNUSED_DAYS``.

    Processes that make the same file at once each rename a whole copy over the other.

    Raises:
        OSError: If the folder cannot be written (nothing is left behind).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(suffix=SCRATCH_SUFFIX, dir=target.parent)
    os.close(handle)
    try:
        write(scratch)
        os.replace(scratch, target)
    finally:  # whatever failed, no half-written file stays behind
        Path(scratch).unlink(missing_ok=True)
    days = get_settings().model_cache_unused_days
    if days > 0:
        prune(target.parent, days, keep=target)


def entries(folder: Path) -> list[Entry]:
    """The cache's files and blob folders in ``folder`` and its ``openvino/`` subfolder,
    least recently used first."""
    found = []
    for path in _candidates(folder):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed by another process meanwhile
            continue
        size = _folder_size(path) if path.is_dir() else stat.st_size
        found.append(Entry(path, size, last_use(path, stat.st_mtime)))
    return sorted(found, key=lambda entry: entry.last_used)


def last_use(path: Path, modified: float) -> float:
    """When ``path`` was last used: its modification time, or for a graph that OpenVINO
    compiles that of its blob folder, whichever is later. A graph OpenVINO reads is never
    touched, since OpenVINO compiles a model again when its file's time changes."""
    blobs = path.with_name(f"{path.stem}{BLOBS_SUFFIX}")
    if path.suffix != ".onnx" or not blobs.is_dir():
        return modified
    try:
        return max(modified, blobs.stat().st_mtime)
    except FileNotFoundError:
        return modified


def _candidates(folder: Path) -> list[Path]:
    inside = []
    for child in _safe_listing(folder):
        if _OURS.search(child.name):
            inside.append(child)
        elif child.name in SUBFOLDERS and child.is_dir() and not child.is_symlink():
            inside.extend(c for c in _safe_listing(child) if _OURS.search(c.name))
    return inside


def _safe_listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _folder_size(folder: Path) -> int:
    size = 0
    for path in _safe_listing(folder):  # OpenVINO's blob folders hold files only
        try:
            size += path.stat().st_size
        except OSError:  # removed meanwhile
            continue
    return size


def prune(folder: Path, unused_days: float, keep: Path | None = None) -> list[Entry]:
    """Remove what in ``folder`` has gone unused for ``unused_days`` (0: everything but
    ``keep``), and scratch files left by killed writes. Returns what was removed."""
    now = time.time()
    removed = []
    for entry in entries(folder):
        limit = STALE_SCRATCH_S if entry.path.name.endswith(".tmp") else unused_days * DAY_S
        if entry.path == keep or now - entry.last_used < limit:
            continue
        try:
            if entry.path.is_dir():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:  # a read-only cache: nothing to free, nothing wrong
            log.debug("model cache: cannot remove %s (%s)", entry.path, error)
            continue
        removed.append(entry)
    if removed:
        freed = sum(entry.size for entry in removed) / 1e6
        log.info(
            "model cache: removed %d unused files (%.0f MB) from %s", len(removed), freed, folder
        )
    return removed
