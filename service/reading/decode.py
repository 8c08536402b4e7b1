"""Span decoding: the best (start, end) token pairs of one window, as character offsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


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
    count = min(top_n, valid)
    # Stable sort: among equal scores the row-major order puts earlier, shorter spans first.
    best = np.argsort(-scores, kind="stable")[:count]
    rows, columns = np.divmod(best, width)
    return [
        (int(char_starts[row]), int(char_ends[end_tokens[row, column]]), float(scores[cell]))
        for row, column, cell in zip(rows, columns, best, strict=True)
    ]


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
