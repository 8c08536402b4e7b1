"""Reader windows: ``[CLS] question [SEP] context slice [SEP]`` with character offsets, and
the spans decoded from a window's logits (:func:`decode_spans`).

Each context is tokenised once; windows are token ranges of it, so a span the model picks
maps straight back to characters of the passage. Two plans: strided windows that cover the
whole context (how the reader is trained and scored on a gold paragraph), and one window
centred on the passage's best sentence (what the service reads: about the same F1 for two to
four times less text, CPU-MEASUREMENTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

from service.reading.errors import ReaderError

# Longer questions are cut: the context needs the room, and 64 word pieces is a paragraph.
MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class Window:
    """One model input; ``offsets[i]`` is token i's span in the context, None outside it."""

    context_index: int
    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int] | None, ...]


@dataclass(frozen=True)
class Batch:
    input_ids: npt.NDArray[np.int64]
    attention_mask: npt.NDArray[np.int64]
    token_type_ids: npt.NDArray[np.int64]


class WindowMaker:
    """Cuts windows for one tokenizer (``tokenizer.json`` of a BERT-style reader)."""

    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.max_length = max_length
        self.cls_id = _token_id(tokenizer, "[CLS]")
        self.sep_id = _token_id(tokenizer, "[SEP]")

    def question_ids(self, question: str) -> list[int]:
        """The question's token ids, cut to MAX_QUESTION_TOKENS."""
        ids = self.tokenizer.encode(question, add_special_tokens=False).ids
        return list(ids[:MAX_QUESTION_TOKENS])

    def encode_contexts(self, contexts: Sequence[str]) -> list[Encoding]:
        """Tokenise each context, without special tokens."""
        return list(self.tokenizer.encode_batch(list(contexts), add_special_tokens=False))

    def room(self, question_ids: Sequence[int]) -> int:
        """Context tokens that fit beside the question and the three special tokens."""
        return max(self.max_length - len(question_ids) - 3, 1)

    def strided(
        self, question_ids: Sequence[int], context: Encoding, context_index: int, stride: int
    ) -> list[Window]:
        """Windows covering the whole context, consecutive ones sharing ``stride`` tokens."""
        room = self.room(question_ids)
        step = max(room - stride, 1)
        total = len(context.ids)
        firsts = [0]
        while firsts[-1] + room < total:
            firsts.append(firsts[-1] + step)
        return [
            self._window(question_ids, context, context_index, first, min(first + room, total))
            for first in firsts
        ]

    def focused(
        self, question_ids: Sequence[int], context: Encoding, context_index: int, focus: int
    ) -> Window:
        """One window holding as much of the context as fits, centred on char ``focus``."""
        room = self.room(question_ids)
        total = len(context.ids)
        centre = next(
            (i for i, (_, end) in enumerate(context.offsets) if end > focus), max(total - 1, 0)
        )
        first = min(max(centre - room // 2, 0), max(total - room, 0))
        return self._window(question_ids, context, context_index, first, min(first + room, total))

    def _window(
        self,
        question_ids: Sequence[int],
        context: Encoding,
        context_index: int,
        first: int,
        last: int,
    ) -> Window:
        lead = [self.cls_id, *question_ids, self.sep_id]
        body = [*context.ids[first:last], self.sep_id]
        offsets: list[tuple[int, int] | None] = [None] * len(lead)
        offsets += [(int(s), int(e)) for s, e in context.offsets[first:last]]
        offsets.append(None)
        return Window(
            context_index,
            tuple(lead + body),
            tuple([0] * len(lead) + [1] * len(body)),
            tuple(offsets),
        )


def batch(windows: Sequence[Window]) -> Batch:
    """Pad windows to the longest one (padding id 0, attention 0)."""
    width = max(len(w.input_ids) for w in windows)
    ids = np.zeros((len(windows), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, window in enumerate(windows):
        length = len(window.input_ids)
        ids[row, :length] = window.input_ids
        types[row, :length] = window.token_type_ids
        mask[row, :length] = 1
    return Batch(ids, mask, types)


def _token_id(tokenizer: Tokenizer, token: str) -> int:
    token_id: Any = tokenizer.token_to_id(token)
    if token_id is None:
        raise ReaderError(f"the reader's tokenizer has no {token} token; it must be BERT-style")
    return int(token_id)


def decode_spans(
    start_logits: npt.NDArray[np.floating[Any]],
    end_logits: npt.NDArray[np.floating[Any]],
    offsets: Sequence[tuple[int, int] | None],
    *,
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
        >>> start, end = np.array([0.0, 5.0]), np.array([0.0, 3.0])
        >>> decode_spans(start, end, [None, (0, 4)], max_answer_tokens=30, top_n=1)
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
    # max_answer_tokens (about 6k cells for 192 x 30) and, unlike pairing only the top-k
    # starts with the top-k ends, cannot miss the best span when top starts have no valid end.
    char_starts = np.array([offset[0] if offset is not None else -1 for offset in offsets])
    char_ends = np.array([offset[1] if offset is not None else -1 for offset in offsets])
    width = min(max_answer_tokens, token_count)
    end_tokens = np.minimum(
        np.arange(token_count)[:, None] + np.arange(width)[None, :], token_count - 1
    )
    scores, valid = _band_scores(start_logits, end_logits, offsets, width, char_starts, char_ends)
    best = _best_cells(scores, min(top_n, valid))
    rows, columns = np.divmod(best, width)
    return [
        (int(char_starts[row]), int(char_ends[end_tokens[row, column]]), float(scores[cell]))
        for row, column, cell in zip(rows, columns, best, strict=True)
    ]


def _best_cells(scores: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.intp]:
    """The ``count`` best cells, best first; among equal scores the row-major order puts
    earlier, shorter spans first. Only the cells scoring at least the count-th best are
    sorted (flatnonzero keeps them in row-major order): the same cells as a stable sort of
    the whole band, in a fraction of its time."""
    if count <= 0:
        return np.zeros(0, dtype=np.intp)
    threshold = np.partition(scores, scores.size - count)[scores.size - count]
    kept = np.flatnonzero(scores >= threshold)
    return kept[np.argsort(-scores[kept], kind="stable")][:count]


def _band_scores(
    start_logits: npt.NDArray[np.floating[Any]],
    end_logits: npt.NDArray[np.floating[Any]],
    offsets: Sequence[tuple[int, int] | None],
    width: int,
    char_starts: npt.NDArray[np.int_],
    char_ends: npt.NDArray[np.int_],
) -> tuple[npt.NDArray[np.float64], int]:
    """Row-major scores of the spans (start token, start + column): start logit + end logit,
    or -inf where the span leaves the window or the context, or covers no characters; then
    how many spans are valid."""
    token_count = len(offsets)
    starts = np.asarray(start_logits, dtype=np.float64)
    ends = np.asarray(end_logits, dtype=np.float64)
    in_context = np.array([offset is not None for offset in offsets])
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
    scores: npt.NDArray[np.float64] = np.where(
        valid, starts[:, None] + ends[end_tokens], -np.inf
    ).ravel()
    return scores, int(valid.sum())
