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

from citeqa.errors import MissingPackageError
from citeqa.model_cache import file_hash, publish
from citeqa.onnx import INT8_RECIPE, ModelSession, open_session, quantize_int8
from citeqa.terminal import announce
from indexer.onnx_export import open_export
from service.reading.errors import ReaderError

log = logging.getLogger("citeqa")
# The reader file shipped and exported (``citeqa reader export``, training/export.py).
FP16_WEIGHTS_FILE = "model-fp16.onnx"
# An fp32 (``--fp32``) export, or an int8 one made before the int8 reader was derived at
# first use: ONNX Runtime reads such a file as it is.
ONNX_FILE = "model.onnx"
# About how long the one-time derivation of the shipped reader takes, for the line that
# announces it (the measured times: eval/RESULTS.md, "One reader file").
DERIVE_SECONDS = 6


def reader_key(folder: Path) -> str:
    """A short hash of ``folder``'s reader file: names its int8 derivation and auto's choice."""
    path = folder / FP16_WEIGHTS_FILE
    if not path.is_file():
        path = folder / ONNX_FILE
    return file_hash(path)  # once a process, however many readers it loads


def int8_path(folder: Path, cache_dir: Path) -> Path:
    """Where the int8 reader derived from ``folder``'s ``model-fp16.onnx`` is cached."""
    return cache_dir / f"reader-{reader_key(folder)}-{INT8_RECIPE}-int8.onnx"


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
    announce(log, "preparing the int8 reader once, about %d s (%s)", DERIVE_SECONDS, target)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            fp32 = Path(scratch) / "reader-fp32.onnx"
            restore_fp32_weights(source, fp32)
            publish(target, lambda written: quantize_int8(fp32, written))
    except MissingPackageError as error:  # a ReaderError lets start-up fall back
        raise ReaderError(f"cannot derive the int8 reader: {error}") from error
    except OSError as error:  # a full or read-only cache: say which folder and what to set
        raise ReaderError(
            f"cannot write the int8 reader into the model cache {cache_dir} ({error}); set "
            "CITEQA_MODEL_CACHE_DIR to a writable folder"
        ) from error
    log.info("int8 reader ready in %.1f s", time.perf_counter() - started)
    return target


def restore_fp32_weights(source: Path, target: Path) -> None:
    """The fp32 graph with fp32 weights, no Casts, from a ``model-fp16.onnx``.

    Undoes ``citeqa reader export``'s fp16 storage (``training.export.store_weights_as_fp16``).
    ONNX Runtime's quantiser only quantises a MatMul whose weight is an initialiser, not the
    output of a Cast, so the int8 reader is quantised from this graph. For the shipped file
    it is the fp32 export that ``citeqa reader export`` quantised before, exactly.

    Raises:
        ReaderError: If ``onnx`` is not installed.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as error:
        raise ReaderError("deriving the int8 reader needs the onnx package") from error
    import numpy as np

    model = onnx.load(str(source))
    halves = {
        item.name for item in model.graph.initializer if item.data_type == onnx.TensorProto.FLOAT16
    }
    # fp16 weight -> the fp32 name the graph reads it by (the Cast's output).
    names = {}
    kept = []
    for node in model.graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type == "Cast" and node.input[0] in halves and to == onnx.TensorProto.FLOAT:
            names[node.input[0]] = node.output[0]
        else:
            kept.append(node)
    # In place, so the initialisers keep the order (and names) of the fp32 export.
    for item in model.graph.initializer:
        if item.name in names:
            weights = numpy_helper.to_array(item).astype(np.float32)
            item.CopyFrom(numpy_helper.from_array(weights, names[item.name]))
    del model.graph.node[:]
    model.graph.node.extend(kept)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


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
