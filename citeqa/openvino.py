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
# Sequences are padded to a multiple of this many tokens. OpenVINO's CPU plugin prepares its
# kernels for each new input shape, and AMX works on tiles of 16 rows: four windows of 143
# tokens took 24.3 ms in bf16 and of 160 tokens 21.2 ms, and windows of mixed lengths 28.1 ms
# unpadded against 19.1 ms padded to 16 (eval/RESULTS.md, "bf16 on AMX").
PAD_TOKENS = 16


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
        # Outputs with a token axis (dynamic second dimension), cut back after padding.
        self._per_token = [
            port.get_partial_shape().rank.get_length() >= 2
            and port.get_partial_shape()[1].is_dynamic
            for port in self.compiled.outputs
        ]
        # An infer request runs one call at a time; idle ones wait here for the next caller.
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[np.float32]]:
        """The model's outputs for ``feed`` (inputs the model lacks are left out).

        Every input is ``(batch, tokens)``; the tokens are padded to :data:`PAD_TOKENS` with
        id 0 and attention 0, which no real token attends to, and per-token outputs are cut
        back to the tokens given.
        """
        feed = {k: v for k, v in feed.items() if k in self.input_names}
        width = next(iter(feed.values())).shape[1]
        extra = -width % PAD_TOKENS
        if extra:
            feed = {k: np.pad(v, ((0, 0), (0, extra))) for k, v in feed.items()}
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            # infer() releases the GIL, so calls from several threads run side by side.
            request.infer(feed)
            outputs = [
                np.array(request.get_output_tensor(i).data, dtype=np.float32)
                for i in range(len(self.compiled.outputs))
            ]
        finally:
            self._idle.put(request)
        if not extra:
            return outputs
        # Per-token outputs (reader logits, an embedder's hidden states) lose the padding.
        return [o[:, :width] if cut else o for o, cut in zip(outputs, self._per_token, strict=True)]
