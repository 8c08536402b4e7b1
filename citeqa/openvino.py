"""The OpenVINO runtime: the same ONNX files, compiled for the CPU's bf16 units.

ONNX Runtime's default CPU provider runs citeqa's int8 models on VNNI and never uses the
bf16 instructions (AMX, AVX512-BF16) that some CPUs have. OpenVINO compiles an fp32 ONNX file
with ``INFERENCE_PRECISION_HINT=bf16`` and runs its matrix products on those units. Whether
that is faster than ORT int8 depends on the CPU (:mod:`citeqa.hardware` decides).

OpenVINO is optional (``pip install openvino``): nothing here imports it at module level.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Precision = Literal["bf16", "f32"]


def openvino_version() -> str | None:
    """The installed OpenVINO's version, or None where it is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    return str(openvino.get_version())


class OpenVinoSession:
    """A compiled ONNX model on OpenVINO's CPU plugin, run from any number of threads.

    Args:
        path: An ONNX file with fp32 (or fp16-stored) weights.
        precision: ``bf16`` runs the matrix products in bf16; ``f32`` keeps fp32.
        threads: Threads for each call.
        side_by_side: Calls that may run at once (each gets its own stream), as the reader's
            windows and a build's threads do.
        cache_dir: Where OpenVINO keeps compiled blobs, so a second start skips compiling.

    Raises:
        ImportError: If OpenVINO is not installed.
    """

    def __init__(
        self,
        path: Path,
        precision: Precision = "bf16",
        threads: int = 1,
        side_by_side: int = 1,
        cache_dir: Path | None = None,
    ) -> None:
        import openvino

        core = openvino.Core()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(cache_dir)})
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": precision,
            "NUM_STREAMS": side_by_side,
            "INFERENCE_NUM_THREADS": threads * side_by_side,
            # Pinned threads fight the other stages of a query, and other processes, for the
            # same two cores; unpinned they go where the scheduler finds room.
            "ENABLE_CPU_PINNING": False,
        }
        self.path = path
        self.compiled = core.compile_model(str(path), "CPU", config)
        self.input_names = frozenset(
            name for port in self.compiled.inputs for name in port.get_names()
        )
        last = self.compiled.outputs[0].get_partial_shape()[-1]
        # The width of the first output (an embedder's dimension); None where it varies.
        self.output_width: int | None = int(last.get_length()) if last.is_static else None
        # An infer request runs one call at a time; idle ones wait here for the next caller.
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[np.float32]]:
        """The model's outputs for ``feed`` (inputs the model lacks are left out)."""
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            # infer() releases the GIL, so calls from several threads run side by side.
            request.infer({k: v for k, v in feed.items() if k in self.input_names})
            return [
                np.array(request.get_output_tensor(i).data, dtype=np.float32)
                for i in range(len(self.compiled.outputs))
            ]
        finally:
            self._idle.put(request)
