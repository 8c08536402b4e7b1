"""ONNX exports of the embedding model, made once and cached (see CITEQA_MODEL_CACHE_DIR).

sentence-transformers' own ``backend="onnx"`` needs optimum-onnx, whose only release pins
transformers < 4.58 and fails to import under the transformers 5 that citeqa runs (tried
with optimum 2.1 and optimum-onnx 0.1). So the transformer is exported here with
``torch.onnx`` (mean pooling and normalisation are done in numpy, as sentence-transformers
does), and quantised to int8 per output channel by ONNX Runtime for ``onnx-int8``.

Exports live in one cache folder, named by a hash of the weight files, so a new model gets
a new export. A fresh export is checked against torch's vectors before it is published:
after that a start needs neither torch's weights nor a comparison.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from citeqa.model_cache import mark_used, publish
from citeqa.onnx import INT8_RECIPE, quantize_int8
from citeqa.terminal import announce
from indexer.errors import ExportError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger("citeqa")
Precision = Literal["fp32", "int8"]
Opened = TypeVar("Opened")
# Largest difference from torch's vectors that still counts as the same model (fp32).
TOLERANCE = 1e-4
# Least cosine to torch's vectors an int8 export must keep on the probes: per-channel int8
# stays above it on NYT texts, per-tensor falls below (eval/RESULTS.md).
INT8_MIN_COSINE = 0.95
PROBES = ("How many people has Mexico extradited?", "a", "Ünïcode, numbers 1,234 and $5.")
OPSET = 17


@lru_cache(maxsize=8)  # the weight files read once per process, not once per use
def weights_key(model_path: Path) -> str:
    """A short hash of the model's weight files: a new model gets a new export."""
    digest = hashlib.sha256()
    for path in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin")):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def export_path(cache_dir: Path, model_path: Path, precision: Precision) -> Path:
    """Where the export of ``model_path`` at ``precision`` lives in the cache."""
    # Packaged models live in ".../<package>/model": the package names the export.
    name = model_path.parent.name if model_path.name == "model" else model_path.name
    suffix = "" if precision == "fp32" else f"-{INT8_RECIPE}-int8"
    return cache_dir / f"{name}-{weights_key(model_path)}{suffix}.onnx"


def ensure_export(
    model_path: Path,
    cache_dir: Path,
    precision: Precision,
    load_model: Callable[[], SentenceTransformer],
    encode: Callable[[Path, list[str]], Any],
) -> Path:
    """The cached export of ``model_path`` at ``precision``, made (and checked) if missing.

    Args:
        model_path: The sentence-transformers folder (weights hashed for the file name).
        cache_dir: Where exports are kept, e.g. ``model-cache`` beside the index.
        precision: ``fp32``, or ``int8`` quantised per channel from the fp32 export.
        load_model: Gives the torch model; called only when an export must be made.
        encode: Encodes texts with an export file (to check it against torch).

    Raises:
        ExportError: If a fresh export's vectors are not the torch model's.
        OSError: If the cache cannot be written.
    """
    target = export_path(cache_dir, model_path, precision)
    if target.is_file():
        return target
    announce(
        log, "exporting the embedding model once to %s (about 10 s; later runs reuse it)", target
    )
    model = load_model()
    expected = model.encode(
        list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    fp32 = export_path(cache_dir, model_path, "fp32")
    if not fp32.is_file():
        log.info("exporting the embedding model to %s (once)", fp32)
        publish(fp32, lambda scratch: _export(model, scratch))
        _check(fp32, np.asarray(encode(fp32, list(PROBES))), expected, "fp32")
    if precision == "int8":
        log.info("quantising the embedding model to %s (once)", target)
        publish(target, lambda scratch: quantize_int8(fp32, scratch))
        _check(target, np.asarray(encode(target, list(PROBES))), expected, "int8")
    return target


def open_export(
    ensure: Callable[[], Path], open_: Callable[[Path], Opened], what: str
) -> tuple[Path, Opened]:
    """Make the export if needed and open it; a damaged cached file is made again once.

    Also how the reader opens its int8 file derived from ``model-fp16.onnx``.

    ``ensure`` returns the export's path (making it when missing); ``open_`` loads it.
    """
    path = ensure()
    mark_used(path)  # kept by the model cache's pruning (citeqa/model_cache.py)
    try:
        return path, open_(path)
    except Exception as error:  # ONNX Runtime's load errors derive from Exception only
        # A damaged cached export (a copy cut short, a disk error) is made again once.
        log.warning("%s: %s is unreadable (%s); making it again", what, path, error)
        path.unlink(missing_ok=True)
        path = ensure()
        return path, open_(path)


def _check(path: Path, got: Any, expected: Any, precision: Precision) -> None:
    if precision == "fp32":
        difference = float(np.abs(expected - got).max())
        if difference <= TOLERANCE:
            return
        problem = f"vectors {difference:.1e} away from the torch model's (pooling other than mean?)"
    else:
        cosine = float((expected * got).sum(axis=1).min())
        if cosine >= INT8_MIN_COSINE:
            return
        problem = f"a cosine of {cosine:.3f} to the torch model's vectors"
    path.unlink(missing_ok=True)
    raise ExportError(
        f"the ONNX export {path} gives {problem}; set CITEQA_EMBED_BACKEND=torch and "
        "CITEQA_QUERY_ENCODER=torch"
    )


def _export(model: SentenceTransformer, target: str) -> None:
    import torch
    from torch.jit._trace import TracerWarning  # torch.jit re-exports it untyped

    class _Encoder(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            output = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    bert = model[0].auto_model
    if not isinstance(bert, torch.nn.Module):
        raise ExportError("the embedding model has no transformer module to export")
    sample = tuple(torch.ones((1, 8), dtype=torch.long) for _ in range(3))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        # Tracing flags the attention code's Python-level branches (TracerWarning) and opset
        # 17's spelling of advanced indexing (UserWarning): expected for this model, whose
        # export is checked against torch's vectors right after, and alarming to a new user.
        warnings.simplefilter("ignore", category=TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        torch.onnx.export(
            _Encoder(bert).eval(),
            sample,
            target,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={name: axes for name in [*names, "last_hidden_state"]},
            opset_version=OPSET,
            dynamo=False,
        )
