"""Which runtime reads: ONNX Runtime in int8, or OpenVINO in bf16.

Both read the one shipped file, ``model-fp16.onnx`` (the checkpoint's own fp16 weights in an
fp32 graph, see :mod:`training.export`): ONNX Runtime an int8 reader derived from it
once into the model cache (:mod:`service.reading.int8`), OpenVINO the file itself, in bf16 on
CPUs with AMX or AVX512-BF16. ``auto`` picks it
where the CPU has those units and a short timing confirms it is faster (:mod:`citeqa.hardware`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np

from citeqa.hardware import BackendChoice, choose_backend, time_interleaved
from citeqa.onnx import BusyAwareSession, ModelSession, open_session, openvino_version
from service.reading.errors import ReaderError
from service.reading.int8 import FP16_WEIGHTS_FILE, open_int8, reader_key

ReaderBackend = Literal["onnx-int8", "openvino-bf16", "auto"]
# A question as served: one window of 160 tokens (CITEQA_READER_WINDOW_TOKENS) for each of
# the 3 passages read (CITEQA_READER_PASSAGES).
TIMING_TOKENS = 160
TIMING_WINDOWS = 3


def resolve_reader_backend(
    folder: Path, backend: ReaderBackend, cache_dir: Path, threads: int = 2
) -> BackendChoice:
    """The runtime that reads the exported reader in ``folder``, and why.

    ``auto`` times a question's windows as each runtime would serve them on ``threads``
    threads (see :func:`open_reader_session`): int8 one window per call, calls side by side;
    bf16 every window in one call. One window on one thread each is not what either serves,
    and on a CPU with AMX it kept int8 where bf16 answered faster end to end (eval/RESULTS.md,
    "bf16 on AMX").

    Raises:
        ReaderError: If ``openvino-bf16`` is asked for and the folder has no
            ``model-fp16.onnx`` or OpenVINO is not installed.
    """
    if backend == "onnx-int8":
        return BackendChoice("onnx-int8", "CITEQA_READER_BACKEND=onnx-int8")
    fp16 = folder / FP16_WEIGHTS_FILE
    if backend == "openvino-bf16":
        if not fp16.is_file():
            raise ReaderError(
                f"{folder} has no {FP16_WEIGHTS_FILE} for OpenVINO; export the reader again "
                "with `citeqa reader export`, or set CITEQA_READER_BACKEND=onnx-int8"
            )
        if openvino_version() is None:
            raise ReaderError(
                "CITEQA_READER_BACKEND=openvino-bf16 needs OpenVINO: pip install openvino, or "
                "set CITEQA_READER_BACKEND=onnx-int8"
            )
        return BackendChoice("openvino-bf16", "CITEQA_READER_BACKEND=openvino-bf16")
    if not fp16.is_file():
        return BackendChoice("onnx-int8", f"{folder} has no {FP16_WEIGHTS_FILE}")

    def compare() -> tuple[float, float]:
        int8 = open_int8(folder, cache_dir)
        bf16 = open_session(fp16, "openvino-bf16", threads, 1, _compiled_cache(cache_dir))
        shape = (TIMING_WINDOWS, TIMING_TOKENS)
        ids = np.random.default_rng(0).integers(1000, 20000, shape, dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        windows = [{name: v[i : i + 1] for name, v in feed.items()} for i in range(len(ids))]
        with ThreadPoolExecutor(threads) as pool:
            return time_interleaved(
                lambda: list(pool.map(int8.run, windows)), lambda: bf16.run(feed)
            )

    # The plan and its threads are in the key: a choice timed another way is not reused.
    plan = f"{TIMING_WINDOWS}x{TIMING_TOKENS} on {threads} threads"
    return choose_backend(f"reader-{reader_key(folder)} {plan}", cache_dir, compare)


def _compiled_cache(cache_dir: Path) -> Path:
    """Where OpenVINO keeps compiled models: an ``openvino`` folder in the model cache."""
    return cache_dir / "openvino"


def open_reader_session(
    folder: Path, choice: BackendChoice, threads: int, cache_dir: Path
) -> ModelSession:
    """The session ``choice`` names, for ``threads`` reading threads.

    ONNX Runtime runs each int8 window on one thread, and up to ``threads`` windows side by
    side; OpenVINO runs all of a question's windows in one call, on ``threads`` threads when
    it reads alone and on one beside other reads (:class:`citeqa.onnx.BusyAwareSession`).
    """
    if choice.backend == "openvino-bf16":
        path, compiled = folder / FP16_WEIGHTS_FILE, _compiled_cache(cache_dir)
        alone = open_session(path, "openvino-bf16", threads, 1, compiled)
        if threads == 1:
            return alone
        beside = open_session(path, "openvino-bf16", 1, threads, compiled)
        return BusyAwareSession(alone, beside)
    return open_int8(folder, cache_dir)
