"""The one ONNX Runtime session configuration that every model in citeqa runs under."""

from __future__ import annotations

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
