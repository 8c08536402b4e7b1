"""Training examples and labelled windows for the extractive span reader.

SQuAD-format JSON -> ``QAExample`` (plus "no answer" negatives) -> ``Features``: token windows
whose start/end labels point at the answer, or at ``[CLS]`` when the window does not hold it.
Everything here is pure (no model, no device), so the alignment can be tested on its own.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from service.reading.errors import ReaderError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# Sequence id that `BatchEncoding.sequence_ids` gives the context: the question goes first.
_CONTEXT_SEQUENCE_ID = 1
# Negatives come from the paragraph 1 to this many places later in the article, cycling.
MAX_NEGATIVE_OFFSET = 4
# Examples tokenised per call: the tokenizer's Python lists of a whole training set would
# take gigabytes, the int32 arrays they become take a tenth of that.
_TOKENIZE_CHUNK = 1000

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class QAExample:
    """One question asked against one context; ``answer_start`` None means "no answer here".

    When there is an answer, ``context[answer_start:answer_start + len(answer_text)]``
    equals ``answer_text``.
    """

    id: str
    question: str
    context: str
    answer_start: int | None
    answer_text: str

    @property
    def answer_end(self) -> int | None:
        """Character just after the answer, or None for a negative."""
        return None if self.answer_start is None else self.answer_start + len(self.answer_text)


@dataclass(frozen=True)
class Paragraph:
    """A context and the questions asked about it (each with its answer in this context)."""

    context: str
    questions: tuple[QAExample, ...]


@dataclass(frozen=True)
class SquadFile:
    """A SQuAD-format file read into articles (each a tuple of paragraphs).

    ``unanchored`` counts questions dropped because no answer text occurs in the context.
    """

    path: Path
    articles: tuple[tuple[Paragraph, ...], ...]
    unanchored: int

    @property
    def question_count(self) -> int:
        """How many questions the file contributes."""
        return sum(len(p.questions) for article in self.articles for p in article)


@dataclass(frozen=True)
class Features:
    """Token windows with their labels, one row per window, padded to ``max_length``.

    ``example_index[i]`` is the example window ``i`` was cut from; a label of 0 at both ends is
    the ``[CLS]`` token (first in every window of BERT-style tokenizers), i.e. "no answer in
    this window".
    """

    input_ids: IntArray
    attention_mask: IntArray
    token_type_ids: IntArray
    start_positions: IntArray
    end_positions: IntArray
    example_index: IntArray

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def load_squad(path: Path) -> SquadFile:
    """Read a SQuAD v1.1 JSON file (``data[].paragraphs[].{context, qas[]}``).

    Each question keeps its first answer whose ``answer_start`` matches its text. Some
    crowd-sourced offsets are shifted by a few characters; then the occurrence of the answer
    text nearest the given offset is used, and a question whose answers occur nowhere in the
    context is dropped and counted in ``unanchored``.

    Args:
        path: The JSON file.

    Returns:
        The file's articles, paragraphs and questions, in file order.

    Raises:
        ReaderError: If the file is missing or not SQuAD-format JSON.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        articles_raw = raw["data"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ReaderError(f"cannot read SQuAD-format JSON from {path}: {error}") from error
    articles: list[tuple[Paragraph, ...]] = []
    unanchored = 0
    for article in articles_raw:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            questions = [_read_question(paragraph["context"], qa) for qa in paragraph["qas"]]
            unanchored += sum(q is None for q in questions)
            kept = tuple(q for q in questions if q is not None)
            paragraphs.append(Paragraph(paragraph["context"], kept))
        articles.append(tuple(paragraphs))
    return SquadFile(path, tuple(articles), unanchored)


def _read_question(context: str, qa: Mapping[str, Any]) -> QAExample | None:
    anchored = _anchor_answer(context, qa["answers"])
    if anchored is None:
        return None
    start, text = anchored
    # Some questions start with runs of spaces, which would only waste window room.
    return QAExample(str(qa["id"]), str(qa["question"]).strip(), context, start, text)


def _anchor_answer(context: str, answers: Sequence[Mapping[str, Any]]) -> tuple[int, str] | None:
    for answer in answers:
        text, start = _strip_answer(str(answer["text"]), int(answer["answer_start"]))
        if text and context[start : start + len(text)] == text:
            return start, text
    for answer in answers:
        text, start = _strip_answer(str(answer["text"]), int(answer["answer_start"]))
        found = list(_occurrences(context, text)) if text else []
        if found:
            return min(found, key=lambda i: abs(i - start)), text
    return None


def _strip_answer(text: str, start: int) -> tuple[str, int]:
    # Surrounding spaces would make the label cover no token boundary at all.
    stripped = text.lstrip()
    return stripped.rstrip(), start + len(text) - len(stripped)


def _occurrences(context: str, text: str) -> Iterator[int]:
    index = context.find(text)
    while index != -1:
        yield index
        index = context.find(text, index + 1)


def limit_questions(files: Sequence[SquadFile], limit: int) -> list[SquadFile]:
    """Keep the first ``limit`` questions over all files; every paragraph stays as a context.

    Paragraphs stay so the negatives of the kept questions still have other paragraphs.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    kept: list[SquadFile] = []
    budget = limit
    for squad in files:
        articles = []
        for article in squad.articles:
            paragraphs = []
            for paragraph in article:
                questions = paragraph.questions[:budget]
                budget -= len(questions)
                paragraphs.append(replace(paragraph, questions=questions))
            articles.append(tuple(paragraphs))
        kept.append(replace(squad, articles=tuple(articles)))
    return kept


def answer_examples(articles: Sequence[Sequence[Paragraph]]) -> list[QAExample]:
    """Every question with its own paragraph, in file order."""
    return [q for article in articles for paragraph in article for q in paragraph.questions]


def negative_examples(
    articles: Sequence[Sequence[Paragraph]], seed: int, per_question: int = 1
) -> list[QAExample]:
    """Each question asked again against other paragraphs of its article, labelled no-answer.

    The other paragraph is the one 1 to 4 places later in the article, cycling; the offset is
    drawn from ``random.Random(seed)``, so the same seed gives the same negatives. Articles
    with a single paragraph give none; an article of n paragraphs gives at most n - 1 per
    question.

    Example:
        >>> q = QAExample("q1", "Who?", "Ann ran.", 0, "Ann")
        >>> article = [Paragraph("Ann ran.", (q,)), Paragraph("Bob sat.", ())]
        >>> [n.context for n in negative_examples([article], seed=0)]
        ['Bob sat.']
    """
    if per_question < 0:
        raise ValueError("per_question must be at least 0")
    rng = random.Random(seed)
    negatives = []
    for article in articles:
        # Capped at n - 1 so that cycling never comes back to the question's own paragraph.
        offsets = range(1, min(MAX_NEGATIVE_OFFSET, len(article) - 1) + 1)
        for index, paragraph in enumerate(article):
            for question in paragraph.questions:
                for offset in rng.sample(offsets, min(per_question, len(offsets))):
                    context = article[(index + offset) % len(article)].context
                    negatives.append(
                        replace(
                            question,
                            id=f"{question.id}#neg{offset}",
                            context=context,
                            answer_start=None,
                            answer_text="",
                        )
                    )
    return negatives


def build_features(
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[QAExample],
    max_length: int = 384,
    stride: int = 128,
) -> Features:
    """Cut every example into windows and label the answer's first and last token.

    The question goes first and only the context is truncated; a context longer than a window
    spills into further windows that overlap by ``stride`` tokens. A window is labelled with
    the answer's tokens only when it holds the whole answer, else with ``[CLS]`` (0) at both
    ends, as are negatives.

    Args:
        tokenizer: A fast (Rust-backed) Hugging Face tokenizer: offsets are needed.
        examples: Questions with their contexts.
        max_length: Tokens per window, question and special tokens included.
        stride: Tokens shared by consecutive windows of one context.

    Returns:
        int32 arrays, one row per window, padded to ``max_length``.

    Raises:
        ValueError: If the tokenizer is not a fast one.
    """
    if not tokenizer.is_fast:
        raise ValueError("build_features needs a fast tokenizer: it reads token offsets")
    chunks = [
        _build_chunk(tokenizer, examples, first, max_length, stride)
        for first in range(0, len(examples), _TOKENIZE_CHUNK)
    ]
    if not chunks:
        empty = np.zeros((0, max_length), dtype=np.int32)
        none = np.zeros(0, dtype=np.int32)
        return Features(empty, empty, empty, none, none, none)
    columns = [field.name for field in fields(Features)]
    return Features(
        **{name: np.concatenate([getattr(c, name) for c in chunks]) for name in columns}
    )


def _build_chunk(
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[QAExample],
    first: int,
    max_length: int,
    stride: int,
) -> Features:
    chunk = examples[first : first + _TOKENIZE_CHUNK]
    encoding = tokenizer(
        [e.question for e in chunk],
        [e.context for e in chunk],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    sample_index = encoding["overflow_to_sample_mapping"]
    labels = [
        label_window(
            encoding["offset_mapping"][window],
            encoding.sequence_ids(window),
            chunk[sample_index[window]],
        )
        for window in range(len(sample_index))
    ]
    input_ids = np.asarray(encoding["input_ids"], dtype=np.int32)
    # Tokenizers of models without segment embeddings give no token_type_ids.
    token_types = encoding.get("token_type_ids", np.zeros_like(input_ids))
    return Features(
        input_ids=input_ids,
        attention_mask=np.asarray(encoding["attention_mask"], dtype=np.int32),
        token_type_ids=np.asarray(token_types, dtype=np.int32),
        start_positions=np.asarray([start for start, _ in labels], dtype=np.int32),
        end_positions=np.asarray([end for _, end in labels], dtype=np.int32),
        example_index=np.asarray(sample_index, dtype=np.int32) + first,
    )


def label_window(
    offsets: Sequence[tuple[int, int]],
    sequence_ids: Sequence[int | None],
    example: QAExample,
) -> tuple[int, int]:
    """Start and end token of ``example``'s answer in one window, or ``(0, 0)`` (``[CLS]``).

    Args:
        offsets: Per token of the window, its ``(start, end)`` characters in its sequence.
        sequence_ids: Per token, 0 for the question, 1 for the context, None for the rest.
        example: The example the window was cut from.

    Returns:
        The first token ending after the answer's start and the last token starting before its
        end, when the window's context tokens cover the whole answer; else ``(0, 0)``.

    Example:
        >>> ex = QAExample("q", "Who?", "Ann ran", 4, "ran")
        >>> label_window([(0, 0), (0, 4), (0, 0), (0, 3), (4, 7)], [None, 0, None, 1, 1], ex)
        (4, 4)
    """
    context = [i for i, sequence in enumerate(sequence_ids) if sequence == _CONTEXT_SEQUENCE_ID]
    answer_start, answer_end = example.answer_start, example.answer_end
    if answer_start is None or answer_end is None or not context:
        return 0, 0
    if offsets[context[0]][0] > answer_start or offsets[context[-1]][1] < answer_end:
        return 0, 0
    start = next(i for i in context if offsets[i][1] > answer_start)
    end = next(i for i in reversed(context) if offsets[i][0] < answer_end)
    # An answer made only of characters the tokenizer drops covers no token at all.
    return (start, end) if start <= end else (0, 0)
