"""The runtimes that run citeqa's ONNX files, behind one small session interface, and the one
int8 quantiser that makes its int8 models.

``onnxruntime`` (the default everywhere) and ``openvino-bf16`` (:mod:`citeqa.openvino`, for
CPUs with bf16 units) take the same feeds and give the same outputs, so the reader and the
embedder do not care which one runs them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from citeqa.errors import MissingPackageError

Runtime = Literal["onnxruntime", "openvino-bf16"]
# Names the int8 files :func:`quantize_int8` makes; it changes whenever they would differ, so
# a model cache made by an older recipe is derived again instead of reused ("r2": attention
# simplified before quantising, citeqa/onnx_graph.py).
INT8_RECIPE = "r2"


class ModelSession(Protocol):
    """A loaded model: named inputs in, float32 outputs out; safe to run from many threads."""

    input_names: frozenset[str]
    # The width of the first output (an embedder's dimension); None where it varies.
    output_width: int | None

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[np.float32]]:
        """The model's outputs for ``feed``; inputs the model lacks are left out."""
        ...


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


def quantize_int8(source: Path, target: str | Path) -> None:
    """Write ``source`` (an fp32 ONNX model) to ``target`` with dynamic int8 weights.

    The one quantiser of citeqa's two int8 models: the embedding model's export
    (indexer/onnx_export.py) and the span reader derived at first use from its shipped fp16
    file (service/reading/int8.py). Weights get a scale per output channel: one
    scale per tensor moved both models' outputs several times further from fp32's than this
    does, at the same size and speed (eval/RESULTS.md).

    The attention's NaN guards and repeated masks are removed first (exactly:
    :mod:`citeqa.onnx_graph`).

    Raises:
        MissingPackageError: ONNX Runtime's quantiser needs the onnx package, which is missing.
    """
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as error:
        raise MissingPackageError(
            "int8 quantisation needs the onnx package: pip install 'onnx>=1.16'"
        ) from error

    # The quantiser logs advice on pre-processing to the root logger on every call; it is
    # about static quantisation and does not apply here.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    from citeqa.onnx_graph import simplify_attention

    model = onnx.load(str(source))
    simplify_attention(model)
    try:
        quantize_dynamic(model, target, per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


class OrtSession:
    """:func:`onnx_session` behind the :class:`ModelSession` interface."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.session = onnx_session(path, threads)
        self.input_names = frozenset(i.name for i in self.session.get_inputs())
        last = self.session.get_outputs()[0].shape[-1]
        self.output_width = last if isinstance(last, int) else None

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[np.float32]]:
        """The model's outputs for ``feed``; inputs the model lacks are left out."""
        outputs: list[Any] = self.session.run(
            None, {k: v for k, v in feed.items() if k in self.input_names}
        )
        return [np.asarray(output, dtype=np.float32) for output in outputs]


def open_session(
    path: Path,
    runtime: Runtime = "onnxruntime",
    threads: int = 1,
    side_by_side: int = 1,
    cache_dir: Path | None = None,
) -> ModelSession:
    """``path`` loaded on ``runtime``, ``threads`` threads per call.

    Args:
        path: The ONNX file.
        runtime: ``onnxruntime``, or ``openvino-bf16`` (needs ``pip install openvino``).
        threads: Threads for each call.
        side_by_side: Calls that may run at once (OpenVINO gives each a stream; ONNX Runtime
            sessions need nothing for it).
        cache_dir: Where OpenVINO keeps its compiled blobs (ignored by ONNX Runtime).
    """
    if runtime == "openvino-bf16":
        from citeqa.openvino import OpenVinoSession

        return OpenVinoSession(path, "bf16", threads, side_by_side, cache_dir)
    return OrtSession(path, threads)
