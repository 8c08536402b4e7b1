"""The runtimes that run citeqa's ONNX files, behind one small session interface; the one
int8 quantiser that makes its int8 models; and the sentence encoder the embedder runs on them
(tokenise, run the export, mean-pool, normalise).

``onnxruntime`` (the default everywhere) and ``openvino-bf16`` take the same feeds and give
the same outputs, so the reader and the embedder do not care which one runs them. ONNX
Runtime's CPU provider runs citeqa's int8 models on VNNI and never uses the bf16 units
(AMX, AVX512-BF16) that some CPUs have; OpenVINO compiles an fp32 ONNX file with
``INFERENCE_PRECISION_HINT=bf16`` and runs its matrix products on them. Which is faster
depends on the CPU (:mod:`citeqa.hardware` decides). OpenVINO is optional (``pip install
openvino``): nothing here imports it at module level.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from citeqa.errors import MissingPackageError

log = logging.getLogger("citeqa")
Runtime = Literal["onnxruntime", "openvino-bf16"]
# Names the int8 files :func:`quantize_int8` makes; it changes whenever they would differ, so
# a model cache made by an older recipe is derived again instead of reused ("r2": attention
# simplified before quantising, citeqa/onnx_graph.py).
INT8_RECIPE = "r2"
Precision = Literal["bf16", "f32"]
# OpenVINO's sequences are padded to a multiple of this many tokens: its CPU plugin prepares
# kernels for each new input shape, and AMX works on tiles of 16 rows, so a few padded shapes
# run faster than many exact ones (eval/RESULTS.md, "bf16 on AMX").
PAD_TOKENS = 16
# Calls a busy-aware session remembers: after this many calls without overlap it runs alone.
RECENT = 8


class ModelSession(Protocol):
    """A loaded model: named inputs in, float32 outputs out; safe to run from many threads."""

    input_names: frozenset[str]
    # The width of the first output (an embedder's dimension); None where it varies.
    output_width: int | None

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[np.float32]]:
        """The model's outputs for ``feed``; inputs the model lacks are left out."""
        ...


def openvino_version() -> str | None:
    """The installed OpenVINO's version, or None where it is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    return str(openvino.get_version())


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
    # about static quantisation and does not apply here. Logged with no handler set up, it
    # also calls basicConfig(), which would leave a stderr handler behind: every later
    # warning of any library would print, and citeqa.terminal.announce would take it for
    # configured logging. The root logger is left as it was found.
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)
    from citeqa.onnx_graph import simplify_attention

    model = onnx.load(str(source))
    simplify_attention(model)
    try:
        quantize_dynamic(model, target, per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)


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


class OpenVinoSession:
    """A compiled ONNX model on OpenVINO's CPU plugin, run from any number of threads.

    Args:
        path: An ONNX file with fp32 (or fp16-stored) weights.
        precision: ``bf16`` runs the matrix products in bf16; ``f32`` keeps fp32.
        threads: Threads for each call.
        side_by_side: Calls that may run at once (each gets its own stream), as the reader's
            windows and a build's threads do.
        cache_dir: Where the simplified graph and OpenVINO's compiled blobs are kept (a folder
            of blobs beside each graph), so a second start neither simplifies nor compiles.

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

        from citeqa.model_cache import mark_used
        from citeqa.onnx_graph import openvino_model

        core = openvino.Core()
        model, blobs = openvino_model(core, path, cache_dir)
        # A read-only model cache must not stop a start: compiling is only slower.
        if blobs is None and cache_dir is not None:
            log.warning("OpenVINO: compiling without a cache (%s cannot be written)", cache_dir)
        elif blobs is not None:
            try:
                blobs.mkdir(exist_ok=True)
                mark_used(blobs)
                core.set_property({"CACHE_DIR": str(blobs)})
            except (OSError, RuntimeError) as error:
                log.warning("OpenVINO: compiling without a cache (%s: %s)", blobs, error)
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": precision,
            "NUM_STREAMS": side_by_side,
            "INFERENCE_NUM_THREADS": threads * side_by_side,
            # Pinned threads fight the other stages of a query, and other processes, for the
            # same two cores; unpinned they go where the scheduler finds room.
            "ENABLE_CPU_PINNING": False,
        }
        self.path = path
        self.compiled = core.compile_model(model, "CPU", config)
        self.input_names = frozenset(
            name for port in self.compiled.inputs for name in port.get_names()
        )
        last = self.compiled.outputs[0].get_partial_shape()[-1]
        # The width of the first output (an embedder's dimension); None where it varies.
        self.output_width: int | None = int(last.get_length()) if last.is_static else None
        # Outputs with a token axis (dynamic second dimension), cut back after padding.
        shapes = [port.get_partial_shape() for port in self.compiled.outputs]
        self._per_token = [
            shape.rank.is_static and shape.rank.get_length() >= 2 and shape[1].is_dynamic
            for shape in shapes
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
            # infer() releases the GIL, so calls from several threads run side by side. By
            # default it also copies the inputs in and every output out under the GIL, which
            # other request threads then wait on; shared, the one copy is the one below.
            request.infer(feed, share_inputs=True, share_outputs=True)
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


class BusyAwareSession:
    """One model compiled twice: all threads for a reader that reads alone, one for the rest.

    A question's windows in one call on 2 threads are read fastest, but the threads wait on
    each other, at about a third more CPU than one thread spends on the same call. When
    other reads compete for the cores that CPU is what they need. So while reads overlap (one
    is running, or one of the last :data:`RECENT` calls overlapped another) a call runs on
    ``beside`` (one stream per thread, one thread each), and concurrent clients get more
    answers a second; a lone client, whose reads never overlap, keeps ``alone`` and its
    latency (eval/RESULTS.md, "bf16 on AMX"). service/reading/backends.py opens the bf16
    reader this way.
    """

    def __init__(self, alone: ModelSession, beside: ModelSession) -> None:
        self.alone = alone
        self.beside = beside
        self.input_names = alone.input_names
        self.output_width = alone.output_width
        self._lock = threading.Lock()
        self._running = 0
        self._started = 0  # calls ever started: another call started during mine if it moved
        self._recent: deque[bool] = deque(maxlen=RECENT)  # whether each recent call overlapped

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[np.float32]]:
        """The model's outputs for ``feed``, from whichever compilation suits the load."""
        with self._lock:
            others = self._running
            session = self.beside if others or any(self._recent) else self.alone
            self._running += 1
            self._started += 1
            mine = self._started
        try:
            return session.run(feed)
        finally:
            with self._lock:
                self._running -= 1
                self._recent.append(bool(others) or self._started != mine)


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
        return OpenVinoSession(path, "bf16", threads, side_by_side, cache_dir)
    return OrtSession(path, threads)


Vectors = npt.NDArray[np.float32]
# Tokens in one batch, padding included. Long texts encode faster one at a time and short
# ones faster together, so a budget of tokens, not of texts, sends long texts alone and
# short ones together; 256 gave the most texts per CPU second of the budgets tried
# (eval/RESULTS.md, "Embedding backends").
TOKEN_BUDGET = 256
# Dynamic int8 quantises the activations of a whole batch with one scale, so a text's
# vector would depend on its batch-mates and its padding: a question embedded alone and the
# same words embedded in a batch of 16 came out visibly apart (eval/RESULTS.md). One text
# per run keeps
# every vector a function of its text alone, as a query's is; int8 alone still encodes
# more texts per CPU second than fp32 at its best budget.
ALONE = 1


class OnnxEncoder:
    """Encodes texts with an ONNX export of a sentence-transformers model (mean pooling).

    Args:
        path: The ``.onnx`` file (see :mod:`indexer.onnx_export`).
        tokenizer_file: The model's ``tokenizer.json``.
        max_tokens: Truncation length, the model's ``max_seq_length``.
        threads: ONNX Runtime intra-op threads for each call; calls from several threads
            run side by side.
        token_budget: Most tokens in one batch, padding included; 1 encodes every text
            alone, which int8 needs (see :data:`ALONE`).
        runtime: ``onnxruntime``, or ``openvino-bf16`` for an fp32 export on a CPU with bf16
            units (see :class:`OpenVinoSession`).
        side_by_side: Calls from different threads that may run at once (OpenVINO only).
        cache_dir: Where OpenVINO keeps compiled models (OpenVINO only).
    """

    def __init__(
        self,
        path: Path,
        tokenizer_file: Path,
        max_tokens: int,
        *,
        threads: int = 1,
        token_budget: int = TOKEN_BUDGET,
        runtime: Runtime = "onnxruntime",
        side_by_side: int = 1,
        cache_dir: Path | None = None,
    ) -> None:
        self.path = path
        self.token_budget = token_budget
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.session = open_session(path, runtime, threads, side_by_side, cache_dir)
        if self.session.output_width is None:
            raise ValueError(f"{path} has no fixed embedding width; is it an embedding model?")
        self.dimension = self.session.output_width

    def encode(self, texts: list[str], batch_size: int = 16) -> Vectors:
        """Normalised vectors, shape ``(len(texts), dimension)``, in input order.

        Batches are cut from the texts sorted by token count, so each pads to a similar
        length (padding is work the model does for nothing), and hold at most
        ``batch_size`` texts and the encoder's token budget, padding included.
        """
        token_budget = self.token_budget
        encodings = self.tokenizer.encode_batch(texts) if texts else []
        lengths = [len(encoding.ids) for encoding in encodings]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        begin = 0
        while begin < len(order):
            end = begin + 1
            # Sorted by length, so the last text of a batch sets its padded width.
            while (
                end < len(order)
                and end - begin < batch_size
                and (end - begin + 1) * lengths[order[end]] <= token_budget
            ):
                end += 1
            rows = order[begin:end]
            vectors[rows] = self._run([encodings[i].ids for i in rows])
            begin = end
        return vectors

    def _run(self, token_ids: list[list[int]]) -> Vectors:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        outputs = self.session.run(
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        hidden = outputs[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
