"""The one ONNX Runtime session configuration that every model in citeqa runs under, and the
one int8 quantiser that makes its int8 models."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any


def onnx_session(path: Path, threads: int = 1) -> Any:
    """A CPU inference session over ``path`` with ``threads`` intra-op threads.

    Idle pool threads are told not to spin: spinning after each call takes the cores from
    the other stages of a query and from other requests (twice the reading time under load on
    2 cores, eval/bench/reader_speed.py). Sessions are thread-safe to run.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantize_int8(source: Path, target: Path) -> None:
    """Write ``source`` (an fp32 ONNX model) to ``target`` with dynamic int8 weights.

    The one quantiser of citeqa's two exports, the embedding model (indexer/onnx_export.py)
    and the span reader (training/export.py). Weights get a scale per output channel: one
    scale per tensor moved both models' outputs several times further from fp32's than this
    does, at the same size and speed (eval/RESULTS.md).

    Raises:
        ImportError: ONNX Runtime's quantiser needs the onnx package, which is missing.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs advice on pre-processing to the root logger on every call; it is
    # about static quantisation and does not apply here.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(source, target, per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
