"""The int8 reader ONNX Runtime runs, derived once from the shipped ``model-fp16.onnx``.

citeqa ships one reader file, the fp16-weight checkpoint (every weight copy committed stays
in git history). At first use it is turned back into the fp32 graph and quantised with the
recipe ``citeqa reader export`` used to ship (dynamic int8, per channel), then written
atomically into the model cache under a name that carries a hash of the fp16 file, as the
embedder's exports are (:mod:`indexer.onnx_export`): a new reader gets a new int8 file, and
later starts open the cached one.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from citeqa.onnx import ModelSession, open_session
from indexer.onnx_export import ExportError, file_hash, open_export, publish, quantize_int8
from service.reading.errors import ReaderError
from service.reading.export import FP16_WEIGHTS_FILE, ONNX_FILE, restore_fp32_weights

log = logging.getLogger("citeqa")
# The one-time derivation of the shipped reader took 4.1-5.7 s on 2 cores at a load of 8-10
# (eval/RESULTS.md, "One reader file"), for the line that announces it.
DERIVE_SECONDS = 6
# Hashes of fp16 files by (path, size, mtime): a start hashes the 45 MB file once, not once
# per reader that a process (or a test session) loads.
_hashes: dict[tuple[Path, int, int], str] = {}


def reader_key(folder: Path) -> str:
    """A short hash of ``folder``'s reader file: names its int8 derivation and auto's choice."""
    path = folder / FP16_WEIGHTS_FILE
    if not path.is_file():
        path = folder / ONNX_FILE
    stat = path.stat()
    key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        _hashes[key] = file_hash(path)
    return _hashes[key]


def int8_path(folder: Path, cache_dir: Path) -> Path:
    """Where the int8 reader derived from ``folder``'s ``model-fp16.onnx`` is cached."""
    return cache_dir / f"reader-{reader_key(folder)}-int8.onnx"


def ensure_int8(folder: Path, cache_dir: Path) -> Path:
    """The cached int8 derivation of ``folder``'s ``model-fp16.onnx``, made if missing.

    Raises:
        ReaderError: If the folder has no ``model-fp16.onnx``, quantising fails or the cache
            cannot be written.
    """
    source = folder / FP16_WEIGHTS_FILE
    if not source.is_file():
        raise ReaderError(f"no reader at {folder}: {FP16_WEIGHTS_FILE} is missing")
    target = int8_path(folder, cache_dir)
    if target.is_file():
        return target
    # WARNING, not INFO: the CLI configures no logging, and a pause of seconds at first use
    # should say what it is.
    log.warning("preparing the int8 reader once, about %d s (%s)", DERIVE_SECONDS, target)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            fp32 = Path(scratch) / "reader-fp32.onnx"
            restore_fp32_weights(source, fp32)
            publish(target, lambda written: quantize_int8(fp32, written))
    except ExportError as error:
        raise ReaderError(str(error)) from error
    except OSError as error:  # a full or read-only cache: say which folder and what to set
        raise ReaderError(
            f"cannot write the int8 reader into the model cache {cache_dir} ({error}); set "
            "CITEQA_MODEL_CACHE_DIR to a writable folder"
        ) from error
    log.info("int8 reader ready in %.1f s", time.perf_counter() - started)
    return target


def open_int8(folder: Path, cache_dir: Path) -> ModelSession:
    """An ONNX Runtime session on the folder's ``model.onnx``, else on the int8 derivation.

    A damaged cached derivation is derived again once; the folder's own files are never
    deleted or rewritten.
    """
    own = folder / ONNX_FILE
    if own.is_file():  # an fp32 export (--fp32), or an int8 one from before
        return open_session(own)
    _, session = open_export(lambda: ensure_int8(folder, cache_dir), open_session, "reader")
    return session
