"""The span reader: scores every token of a window as an answer's start and end.

A BERT span reader trained by ``citeqa reader train`` and exported by ``citeqa reader export``
runs on ONNX Runtime (int8, derived once from the exported fp16 file) or OpenVINO; a plain
Hugging Face checkpoint folder runs on torch, which is how a freshly trained model is
scored before export. Spans come back as character offsets into the context they were read
from, so ``contexts[span.context_index][span.char_start:span.char_end] == span.text`` always holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from citeqa.hardware import BackendChoice
from citeqa.onnx import PAD_TOKENS, ModelSession
from service.reading.backends import ReaderBackend, open_reader_session, resolve_reader_backend
from service.reading.errors import ReaderError
from service.reading.int8 import FP16_WEIGHTS_FILE, ONNX_FILE
from service.reading.windows import Batch, Window, WindowMaker, batch, decode_spans

Logits = npt.NDArray[np.float32]
# A preferred span (say, the bare figure for a "how many" question) replaces a better
# overlapping one when its score is at most this many logits lower: a tie, for the model.
TIE_MARGIN = 1.0
# Candidates per window before merging: the top ones overlap each other (a number, the
# number with its noun, ...), so take enough to leave a few distinct spans per passage.
SPANS_PER_WINDOW = 50
# Windows per OpenVINO bf16 call: all of a question's, as read by default (3 passages, or a
# few windows of a long one when whole passages are read).
BF16_WINDOWS_PER_CALL = 16


@dataclass(frozen=True)
class ReaderSpan:
    """A candidate answer, ``text == contexts[context_index][char_start:char_end]``.

    ``score`` is start logit + end logit; ``null_score`` is the passage's no-answer score
    (the lowest ``[CLS]`` start + end over its windows), so ``margin`` > 0 means the reader
    prefers this span to "not in this passage".
    """

    context_index: int
    char_start: int
    char_end: int
    text: str
    score: float
    null_score: float

    @property
    def margin(self) -> float:
        """How far the span's score clears its window's no-answer score."""
        return self.score - self.null_score


class LogitModel(Protocol):
    def __call__(self, inputs: Batch) -> tuple[Logits, Logits]:
        """Start and end logits for every token of every window in ``inputs``."""


class OnnxLogits:
    """An exported reader on ONNX Runtime or OpenVINO, one per process, thread-safe to run."""

    def __init__(self, session: ModelSession) -> None:
        self.session = session

    def __call__(self, inputs: Batch) -> tuple[Logits, Logits]:
        """Start and end logits from the session."""
        start, end = self.session.run(
            {
                "input_ids": inputs.input_ids,
                "attention_mask": inputs.attention_mask,
                "token_type_ids": inputs.token_type_ids,
            }
        )
        return start, end


class TorchLogits:
    """A Hugging Face ``*ForQuestionAnswering`` checkpoint on torch (fp32)."""

    def __init__(self, path: Path, threads: int) -> None:
        import torch
        from transformers import AutoModelForQuestionAnswering

        torch.set_num_threads(threads)
        model, info = AutoModelForQuestionAnswering.from_pretrained(
            path, local_files_only=True, output_loading_info=True
        )
        if info["missing_keys"]:
            # transformers would initialise the head at random and the "answers" would be
            # noise, e.g. when the folder holds the embedding model by mistake.
            raise ReaderError(
                f"{path} lacks trained question-answering weights "
                f"({', '.join(sorted(info['missing_keys'])[:3])}); use a checkpoint from "
                "`citeqa reader train`"
            )
        self.model = model.float().eval()

    def __call__(self, inputs: Batch) -> tuple[Logits, Logits]:
        """Start and end logits from the torch checkpoint."""
        import torch

        with torch.inference_mode():
            outputs = self.model(
                input_ids=torch.from_numpy(inputs.input_ids),
                attention_mask=torch.from_numpy(inputs.attention_mask),
                token_type_ids=torch.from_numpy(inputs.token_type_ids),
            )
        return outputs.start_logits.float().numpy(), outputs.end_logits.float().numpy()


class SpanReader:
    """Reads a question against passages and returns each passage's best spans.

    Args:
        model_dir: A folder with ``model-fp16.onnx`` (exported; or an fp32 ``model.onnx``)
            or a Hugging Face QA checkpoint, plus ``tokenizer.json``.
        threads: CPU threads for reading. On ONNX Runtime each window runs on one thread
            and up to ``threads`` windows run side by side: at batch 1 a second intra-op
            thread barely helps (eval/RESULTS.md), a second window does.
        max_length: Tokens per window (question, context and three special tokens).
        max_answer_tokens: Longest answer, in tokens.
        batch_size: Windows per forward pass. Unset, one on ONNX Runtime: on a CPU a batch
            is no faster than its windows one by one, and int8's dynamic activation scales
            are computed over the whole batch, so batching would make one passage's spans
            depend on which other passages were read beside it. On OpenVINO bf16, which has
            no such scales, every window of a question in one call on ``threads`` threads:
            faster than windows side by side (eval/RESULTS.md, "OpenVINO bf16").
        backend: For an exported reader: ``onnx-int8`` (ONNX Runtime on the int8 reader
            derived from ``model-fp16.onnx``), ``openvino-bf16`` (OpenVINO on
            ``model-fp16.onnx``) or ``auto`` (the faster of the two on this CPU, see
            :mod:`service.reading.backends`).
        cache_dir: The model cache: the derived int8 reader, ``auto``'s decision and
            OpenVINO's compiled models. Unset, the settings' (``CITEQA_MODEL_CACHE_DIR``,
            else ``model-cache`` beside the index).

    Raises:
        ReaderError: If the folder holds no usable reader.

    Example:
        >>> from citeqa.config import packaged_reader_path
        >>> reader = SpanReader(packaged_reader_path())
        >>> reader.read("Who won?", ["Ada Lovelace won the prize."])[0].text
        'Ada Lovelace'
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        threads: int = 2,
        max_length: int = 160,
        max_answer_tokens: int = 30,
        batch_size: int | None = None,
        backend: ReaderBackend = "onnx-int8",
        cache_dir: Path | None = None,
    ) -> None:
        if max_answer_tokens < 1 or (batch_size is not None and batch_size < 1):
            raise ValueError("max_answer_tokens and batch_size must both be at least 1")
        if not 32 <= max_length <= 512:
            raise ReaderError("max_length must be between 32 and 512 tokens")
        folder = Path(model_dir).expanduser()
        self.model_dir = folder
        self.windows = WindowMaker(_load_tokenizer(folder), max_length)
        # Which runtime reads and why (None for a torch checkpoint), for the start-up log.
        self.backend: BackendChoice | None
        self.model, self.backend = _load_model(folder, threads, backend, cache_dir)
        self.max_answer_tokens = max_answer_tokens
        bf16 = self.backend is not None and self.backend.backend == "openvino-bf16"
        self.batch_size = batch_size or (BF16_WINDOWS_PER_CALL if bf16 else 1)
        side_by_side = isinstance(self.model, OnnxLogits) and threads > 1 and not bf16
        self._pool = ThreadPoolExecutor(threads, "citeqa-reader") if side_by_side else None

    def warm_up(self, windows: int) -> int:
        """Run every input shape a question of up to ``windows`` windows can take, once.

        OpenVINO prepares its kernels for each new shape at its first call, which is slower
        than the later ones (eval/RESULTS.md, "bf16 on AMX"); its calls are padded to
        :data:`citeqa.onnx.PAD_TOKENS`, so a few dozen shapes are all there are. ONNX
        Runtime has no such first call per shape, so nothing is run for it. Returns the
        number of shapes run.
        """
        if self.backend is None or self.backend.backend != "openvino-bf16":
            return 0
        widths = range(2 * PAD_TOKENS, self.windows.max_length + PAD_TOKENS, PAD_TOKENS)
        shapes = [(rows, width) for rows in range(1, windows + 1) for width in widths]
        for rows, width in shapes:
            ids = np.zeros((rows, min(width, self.windows.max_length)), dtype=np.int64)
            self.model(Batch(ids, np.ones_like(ids), np.zeros_like(ids)))
        return len(shapes)

    def read(
        self,
        question: str,
        contexts: Sequence[str],
        focuses: Sequence[int] | None = None,
        spans_per_context: int = 3,
        stride: int = 128,
        prefer: Callable[[str], bool] | None = None,
    ) -> list[ReaderSpan]:
        """The best non-overlapping spans of every context, best margin first.

        Args:
            question: The user's question.
            contexts: Passages to read; spans point into these strings by index.
            focuses: Per context, a character to centre one window on (the best sentence);
                None reads each context whole, in windows overlapping by ``stride`` tokens.
            spans_per_context: Distinct spans kept per context, so that different values
                in different sources survive.
            stride: Tokens shared by consecutive windows when reading whole contexts.
            prefer: Breaks near-ties: an overlapping span within ``TIE_MARGIN`` of the best
                one is taken instead when ``prefer(text)`` holds ("37" over "37 inmates").

        Raises:
            ValueError: If the question is empty or ``focuses`` does not match ``contexts``.
        """
        if not question.strip():
            raise ValueError("question must not be empty")
        if focuses is not None and len(focuses) != len(contexts):
            raise ValueError("give one focus per context")
        if not contexts:
            return []
        windows = self._windows(question, contexts, focuses, stride)
        start_logits, end_logits = self._logits(windows)
        spans: list[ReaderSpan] = []
        for index, context in enumerate(contexts):
            rows = [row for row, w in enumerate(windows) if w.context_index == index]
            spans += self._best_of_context(
                context,
                index,
                [windows[r] for r in rows],
                start_logits[rows],
                end_logits[rows],
                keep=spans_per_context,
                prefer=prefer,
            )
        return sorted(spans, key=lambda s: (-s.margin, s.context_index, s.char_start))

    def _windows(
        self,
        question: str,
        contexts: Sequence[str],
        focuses: Sequence[int] | None,
        stride: int,
    ) -> list[Window]:
        question_ids = self.windows.question_ids(question)
        encodings = self.windows.encode_contexts(contexts)
        if focuses is not None:
            return [
                self.windows.focused(question_ids, encoding, index, focus)
                for index, (encoding, focus) in enumerate(zip(encodings, focuses, strict=True))
            ]
        return [
            window
            for index, encoding in enumerate(encodings)
            for window in self.windows.strided(question_ids, encoding, index, stride)
        ]

    def _logits(self, windows: Sequence[Window]) -> tuple[Logits, Logits]:
        # Similar lengths share a batch, so little of each batch is padding; the longest go
        # first, so that the pool's threads finish together (a long window started last
        # would leave the other thread idle while it runs).
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i].input_ids))
        width = max(len(w.input_ids) for w in windows)
        starts = np.full((len(windows), width), -np.inf, dtype=np.float32)
        ends = np.full_like(starts, -np.inf)
        groups = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        inputs = [batch([windows[r] for r in rows]) for rows in groups]
        # ONNX Runtime releases the GIL, so batches on the pool's threads run in parallel.
        outputs = self._pool.map(self.model, inputs) if self._pool else map(self.model, inputs)
        for rows, (start, end) in zip(groups, outputs, strict=True):
            for position, row in enumerate(rows):
                length = len(windows[row].input_ids)
                starts[row, :length] = start[position, :length]
                ends[row, :length] = end[position, :length]
        return starts, ends

    def _best_of_context(
        self,
        context: str,
        index: int,
        windows: Sequence[Window],
        start_logits: Logits,
        end_logits: Logits,
        *,
        keep: int,
        prefer: Callable[[str], bool] | None = None,
    ) -> list[ReaderSpan]:
        # The passage's no-answer score is its lowest [CLS] score: the window that holds
        # the answer is the one that argues least for "no answer here".
        null = float(min(start_logits[:, 0] + end_logits[:, 0]))
        best: dict[tuple[int, int], float] = {}
        for row, window in enumerate(windows):
            length = len(window.input_ids)
            for start, end, score in decode_spans(
                start_logits[row, :length],
                end_logits[row, :length],
                window.offsets,
                max_answer_tokens=self.max_answer_tokens,
                top_n=SPANS_PER_WINDOW,
            ):
                start, end = _trim(context, start, end)
                if start < end and score > best.get((start, end), -np.inf):
                    best[(start, end)] = score
        ranked = sorted(best.items(), key=lambda item: -item[1])
        chosen: list[ReaderSpan] = []
        for (start, end), score in ranked:
            if any(start < c.char_end and c.char_start < end for c in chosen):
                continue  # a widened or narrowed copy of a better span, not another value
            if prefer is not None and not prefer(context[start:end]):
                start, end, score = _preferred(ranked, start, end, score, context, prefer)
            chosen.append(ReaderSpan(index, start, end, context[start:end], score, null))
            if len(chosen) == keep:
                break
        return chosen


def _preferred(
    ranked: Sequence[tuple[tuple[int, int], float]],
    start: int,
    end: int,
    score: float,
    context: str,
    prefer: Callable[[str], bool],
) -> tuple[int, int, float]:
    """The best overlapping span that ``prefer`` accepts, if it is a near-tie; else the span."""
    for (other_start, other_end), other_score in ranked:
        if other_score < score - TIE_MARGIN:
            break
        if other_start < end and start < other_end and prefer(context[other_start:other_end]):
            return other_start, other_end, other_score
    return start, end, score


def _trim(context: str, start: int, end: int) -> tuple[int, int]:
    # Moving the offsets rather than stripping the text keeps the span an exact slice.
    while start < end and context[start].isspace():
        start += 1
    while end > start and context[end - 1].isspace():
        end -= 1
    return start, end


def _load_tokenizer(folder: Path) -> Tokenizer:
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ReaderError(
            f"no reader at {folder}: tokenizer.json is missing; point CITEQA_READER_MODEL at a "
            "folder made by `citeqa reader export`, or set CITEQA_READER=none"
        )
    return Tokenizer.from_file(str(path))


def _load_model(
    folder: Path, threads: int, backend: ReaderBackend, cache_dir: Path | None
) -> tuple[LogitModel, BackendChoice | None]:
    if (folder / FP16_WEIGHTS_FILE).is_file() or (folder / ONNX_FILE).is_file():
        if cache_dir is None:
            from citeqa.config import get_settings

            cache_dir = get_settings().resolved_model_cache_dir()
        choice = resolve_reader_backend(folder, backend, cache_dir, threads)
        session = open_reader_session(folder, choice, threads, cache_dir)
        return OnnxLogits(session), choice
    if (folder / "config.json").is_file():
        try:
            return TorchLogits(folder, threads), None
        except (OSError, ValueError) as error:
            raise ReaderError(f"{folder} holds no loadable QA checkpoint ({error})") from error
    raise ReaderError(
        f"no reader at {folder}: neither {FP16_WEIGHTS_FILE} nor a Hugging Face checkpoint; "
        "train one with `citeqa reader train` or set CITEQA_READER=none"
    )
