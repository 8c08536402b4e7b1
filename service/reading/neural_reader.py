"""Optional neural reader: a local Hugging Face extractive-QA checkpoint picks answer spans.

No such checkpoint ships with citeqa, so the service only builds a `NeuralReader` when
``CITEQA_READER_MODEL`` names a local folder; otherwise the model-free extractor reads.
Every span is returned as character offsets into the context string it came from, so
``contexts[span.context_index][span.char_start:span.char_end] == span.text`` always holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    BatchEncoding,
    PreTrainedTokenizerBase,
)

from service.reading.errors import ReaderError

# Sequence id that `BatchEncoding.sequence_ids` gives the context: the question goes first.
_CONTEXT_SEQUENCE_ID = 1


@dataclass(frozen=True)
class ReaderSpan:
    """A candidate answer: ``text == contexts[context_index][char_start:char_end]``.

    ``score`` is start logit + end logit. ``null_score`` is the same sum at the CLS token of
    the window the span came from; the caller abstains when ``score - null_score`` is low,
    which is how SQuAD 2.0 models say "no answer here".
    """

    context_index: int
    char_start: int
    char_end: int
    text: str
    score: float
    null_score: float


def decode_spans(
    start_logits: npt.NDArray[np.floating[Any]],
    end_logits: npt.NDArray[np.floating[Any]],
    offsets: Sequence[tuple[int, int] | None],
    max_answer_tokens: int,
    top_n: int,
) -> list[tuple[int, int, float]]:
    """Best answer spans of one window as ``(char_start, char_end, score)``, best first.

    A span runs from a start token to an end token at or after it, at most
    ``max_answer_tokens`` long, with both tokens inside the context (offset not None:
    question, special and padding tokens have None). Ties keep the earlier, shorter span.

    Args:
        start_logits: One start logit per token of the window.
        end_logits: One end logit per token of the window.
        offsets: Per token, its ``(start, end)`` characters in the context, or None.
        max_answer_tokens: Longest span, in tokens.
        top_n: How many spans to return at most.

    Returns:
        Up to ``top_n`` spans with score = start logit + end logit.

    Raises:
        ValueError: If the lengths disagree or ``max_answer_tokens`` / ``top_n`` < 1.

    Example:
        >>> decode_spans(np.array([0.0, 5.0]), np.array([0.0, 3.0]), [None, (0, 4)], 30, 1)
        [(0, 4, 8.0)]
    """
    if max_answer_tokens < 1 or top_n < 1:
        raise ValueError("max_answer_tokens and top_n must both be at least 1")
    token_count = len(offsets)
    if len(start_logits) != token_count or len(end_logits) != token_count:
        raise ValueError("start_logits, end_logits and offsets must have one entry per token")
    if token_count == 0:
        return []
    # An exact search over the band end - start < max_answer_tokens costs tokens x
    # max_answer_tokens (about 11k cells for 384 x 30) and, unlike pairing only the top-k
    # starts with the top-k ends, cannot miss the best span when top starts have no valid end.
    starts = np.asarray(start_logits, dtype=np.float64)
    ends = np.asarray(end_logits, dtype=np.float64)
    in_context = np.array([offset is not None for offset in offsets])
    char_starts = np.array([offset[0] if offset is not None else -1 for offset in offsets])
    char_ends = np.array([offset[1] if offset is not None else -1 for offset in offsets])

    width = min(max_answer_tokens, token_count)
    end_tokens = np.arange(token_count)[:, None] + np.arange(width)[None, :]
    inside = end_tokens < token_count
    end_tokens = np.minimum(end_tokens, token_count - 1)
    valid = (
        inside
        & in_context[:, None]
        & in_context[end_tokens]
        # Tokens that cover no characters (empty offsets) would give an empty answer.
        & (char_ends[end_tokens] > char_starts[:, None])
    )
    scores = np.where(valid, starts[:, None] + ends[end_tokens], -np.inf).ravel()
    count = min(top_n, int(valid.sum()))
    # Stable sort: among equal scores the row-major order puts earlier, shorter spans first.
    best = np.argsort(-scores, kind="stable")[:count]
    rows, columns = np.divmod(best, width)
    return [
        (int(char_starts[row]), int(char_ends[end_tokens[row, column]]), float(scores[cell]))
        for row, column, cell in zip(rows, columns, best, strict=True)
    ]


class NeuralReader:
    """Extractive QA with a local Hugging Face checkpoint (``CITEQA_READER_MODEL``).

    Args:
        model_path: Folder holding ``config.json``, tokenizer files and weights of a model
            fine-tuned for extractive QA (e.g. a SQuAD 2.0 checkpoint).
        max_seq_length: Tokens per window (question + context + special tokens).
        doc_stride: Tokens shared by consecutive windows of one context.
        max_answer_tokens: Longest answer, in tokens.
        device: Torch device to run on, e.g. ``"cpu"`` or ``"cuda:0"``.
        batch_size: Windows per forward pass.

    Raises:
        ReaderError: If the folder is missing or does not hold a usable QA checkpoint.
        ValueError: If a length argument is out of range.

    Example:
        >>> reader = NeuralReader("/models/roberta-base-squad2")  # doctest: +SKIP
        >>> span = reader.extract("Who won?", ["Ada Lovelace won the prize."])[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        model_path: str | Path,
        max_seq_length: int = 384,
        doc_stride: int = 128,
        max_answer_tokens: int = 30,
        device: str = "cpu",
        batch_size: int = 16,
    ) -> None:
        if max_answer_tokens < 1 or batch_size < 1:
            raise ValueError("max_answer_tokens and batch_size must both be at least 1")
        if not 0 <= doc_stride < max_seq_length:
            raise ValueError("doc_stride must be at least 0 and smaller than max_seq_length")
        self.max_seq_length = max_seq_length
        self.doc_stride = doc_stride
        self.max_answer_tokens = max_answer_tokens
        self.batch_size = batch_size
        self._tokenizer, model = _load_checkpoint(model_path)
        max_positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if isinstance(max_positions, int) and max_seq_length > max_positions:
            raise ValueError(
                f"max_seq_length={max_seq_length} exceeds the model's {max_positions} "
                "positions; lower max_seq_length"
            )
        self._device = torch.device(device)
        self._model = model.to(self._device).eval()

    def extract(self, question: str, contexts: Sequence[str], top_n: int = 5) -> list[ReaderSpan]:
        """The best answer spans for ``question`` across all ``contexts``, best first.

        Args:
            question: The user's question.
            contexts: Passages to read; spans point into these strings by index.
            top_n: How many spans to return at most.

        Returns:
            Up to ``top_n`` distinct spans, each with the null score of its window.

        Raises:
            ValueError: If the question is empty, too long to leave room for context in a
                window, or ``top_n`` < 1.
        """
        if top_n < 1:
            raise ValueError("top_n must be at least 1")
        if not question.strip():
            raise ValueError("question must not be empty")
        if not contexts:
            return []
        self._check_question_fits(question)
        # A context longer than one window is read as overlapping windows so that no part of
        # it is cut off; the overlap (doc_stride) keeps an answer near a boundary whole in one.
        encoding = self._tokenizer(
            [question] * len(contexts),
            list(contexts),
            truncation="only_second",
            max_length=self.max_seq_length,
            stride=self.doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="longest",
            return_tensors="pt",
        )
        start_logits, end_logits = self._predict_logits(encoding)
        return self._best_spans(encoding, start_logits, end_logits, contexts, top_n)

    def _best_spans(
        self,
        encoding: BatchEncoding,
        start_logits: npt.NDArray[np.float32],
        end_logits: npt.NDArray[np.float32],
        contexts: Sequence[str],
        top_n: int,
    ) -> list[ReaderSpan]:
        best: dict[tuple[int, int, int], ReaderSpan] = {}
        for window, context_index in enumerate(encoding["overflow_to_sample_mapping"].tolist()):
            offsets = _context_offsets(encoding, window)
            cls_token = _cls_position(encoding, window, self._tokenizer.cls_token_id)
            null_score = float(start_logits[window, cls_token] + end_logits[window, cls_token])
            candidates = decode_spans(
                start_logits[window], end_logits[window], offsets, self.max_answer_tokens, top_n
            )
            for char_start, char_end, score in candidates:
                span = _trimmed_span(
                    contexts[context_index], context_index, char_start, char_end, score, null_score
                )
                if span is None:
                    continue
                # Overlapping windows see the same text; keep each span once, at its best.
                key = (span.context_index, span.char_start, span.char_end)
                if key not in best or span.score > best[key].score:
                    best[key] = span
        ranked = sorted(
            best.values(),
            key=lambda span: (-span.score, span.context_index, span.char_start, span.char_end),
        )
        return ranked[:top_n]

    def _check_question_fits(self, question: str) -> None:
        # When the room left for context is not larger than the stride, the fast tokenizer
        # panics with a PanicException, which derives from BaseException; check it first.
        question_tokens = len(self._tokenizer(question, add_special_tokens=False)["input_ids"])
        special_tokens = self._tokenizer.num_special_tokens_to_add(pair=True)
        context_room = self.max_seq_length - question_tokens - special_tokens
        if context_room <= self.doc_stride:
            raise ValueError(
                f"question is {question_tokens} tokens, which leaves {context_room} for context "
                f"per window; shorten it or raise max_seq_length above "
                f"{question_tokens + special_tokens + self.doc_stride}"
            )

    def _predict_logits(
        self, encoding: BatchEncoding
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        inputs = {
            name: encoding[name] for name in self._tokenizer.model_input_names if name in encoding
        }
        window_count = int(encoding["input_ids"].shape[0])
        starts: list[npt.NDArray[np.float32]] = []
        ends: list[npt.NDArray[np.float32]] = []
        with torch.inference_mode():
            for first in range(0, window_count, self.batch_size):
                batch = {
                    name: tensor[first : first + self.batch_size].to(self._device)
                    for name, tensor in inputs.items()
                }
                outputs = self._model(**batch)
                starts.append(outputs.start_logits.float().cpu().numpy())
                ends.append(outputs.end_logits.float().cpu().numpy())
        return np.concatenate(starts), np.concatenate(ends)


# Returns the model as a plain Module because transformers leaves `to` and `eval` untyped.
def _load_checkpoint(model_path: str | Path) -> tuple[PreTrainedTokenizerBase, torch.nn.Module]:
    if not str(model_path).strip():
        raise ReaderError(
            "CITEQA_READER_MODEL is empty; unset it to use the model-free extractor or set it "
            "to a local extractive-QA checkpoint folder"
        )
    folder = Path(model_path).expanduser()
    if not folder.is_dir():
        raise ReaderError(
            f"CITEQA_READER_MODEL={model_path} is not a folder; set it to a local Hugging Face "
            "extractive-QA checkpoint folder (config.json, tokenizer files, weights) or unset it"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model, loading_info = AutoModelForQuestionAnswering.from_pretrained(
            folder, local_files_only=True, output_loading_info=True
        )
    except (OSError, ValueError) as error:
        raise ReaderError(
            f"CITEQA_READER_MODEL={model_path} does not hold a loadable extractive-QA "
            f"checkpoint ({error}); point it at a folder saved with save_pretrained"
        ) from error
    if not tokenizer.is_fast:
        raise ReaderError(
            f"CITEQA_READER_MODEL={model_path} has no fast tokenizer (tokenizer.json), which "
            "answer offsets need; save the checkpoint with a fast tokenizer"
        )
    missing = sorted(loading_info["missing_keys"])
    if missing:
        # Without these weights transformers initialises them at random and the "answers"
        # would be noise, e.g. when the variable names an embedding model by mistake.
        raise ReaderError(
            f"CITEQA_READER_MODEL={model_path} lacks trained question-answering weights "
            f"({', '.join(missing[:3])}); use a checkpoint fine-tuned for extractive QA"
        )
    return tokenizer, model


def _context_offsets(encoding: BatchEncoding, window: int) -> list[tuple[int, int] | None]:
    # Only context tokens keep their offsets: question offsets point into the question
    # string and special or padding tokens into nothing, so neither may start an answer.
    sequence_ids = encoding.sequence_ids(window)
    offsets = encoding["offset_mapping"][window].tolist()
    return [
        (int(offset[0]), int(offset[1])) if sequence_id == _CONTEXT_SEQUENCE_ID else None
        for sequence_id, offset in zip(sequence_ids, offsets, strict=True)
    ]


def _cls_position(encoding: BatchEncoding, window: int, cls_token_id: int | None) -> int:
    input_ids: list[int] = encoding["input_ids"][window].tolist()
    if cls_token_id is not None and cls_token_id in input_ids:
        return input_ids.index(cls_token_id)
    return 0


def _trimmed_span(
    context: str, context_index: int, char_start: int, char_end: int, score: float, null: float
) -> ReaderSpan | None:
    # Some tokenizers (byte-level BPE) fold the preceding space into a token's offsets;
    # moving the offsets rather than stripping the text keeps the span an exact slice.
    while char_start < char_end and context[char_start].isspace():
        char_start += 1
    while char_end > char_start and context[char_end - 1].isspace():
        char_end -= 1
    if char_start == char_end:
        return None
    return ReaderSpan(
        context_index, char_start, char_end, context[char_start:char_end], score, null
    )
