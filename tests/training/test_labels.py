"""Label alignment, negatives and SQuAD loading, on hand-made contexts and a tiny tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertTokenizerFast  # type: ignore[attr-defined]

from service.reading.errors import ReaderError
from training.labels import (
    Paragraph,
    QAExample,
    answer_examples,
    build_features,
    limit_questions,
    load_squad,
    negative_examples,
)

# "where?" gives [CLS] where ? [SEP] ... [SEP]: 15 tokens leave 10 for the context, and a
# stride of 4 starts the windows at words 0, 6, 12, 18 and 24 of "w0 w1 ... w29".
CONTEXT = " ".join(f"w{i}" for i in range(30))
MAX_LENGTH, STRIDE = 15, 4
WINDOW_STARTS = [0, 6, 12, 18, 24]
NO_ANSWER = (0, 0)


def _example(first_word: int, last_word: int, context: str = CONTEXT) -> QAExample:
    words = context.split(" ")
    start = len(" ".join(words[:first_word])) + (1 if first_word else 0)
    text = " ".join(words[first_word : last_word + 1])
    assert context[start : start + len(text)] == text
    return QAExample("q", "where?", context, start, text)


def _labels(tokenizer: BertTokenizerFast, example: QAExample) -> list[tuple[int, int]]:
    features = build_features(tokenizer, [example], MAX_LENGTH, STRIDE)
    return list(
        zip(features.start_positions.tolist(), features.end_positions.tolist(), strict=True)
    )


def _token(word: int, window: int) -> int:
    # Context tokens start after [CLS] where ? [SEP].
    return 4 + word - WINDOW_STARTS[window]


def test_windows_are_cut_as_the_tests_assume(tokenizer: BertTokenizerFast) -> None:
    features = build_features(tokenizer, [_example(0, 0)], MAX_LENGTH, STRIDE)

    first_words = [tokenizer.convert_ids_to_tokens([int(row[4])])[0] for row in features.input_ids]
    assert first_words == [f"w{start}" for start in WINDOW_STARTS]
    assert features.example_index.tolist() == [0] * 5


def test_answer_on_the_last_context_token_of_a_window(tokenizer: BertTokenizerFast) -> None:
    # w9 closes window 0 and sits inside window 1.
    labels = _labels(tokenizer, _example(9, 9))

    assert labels == [(_token(9, 0),) * 2, (_token(9, 1),) * 2, NO_ANSWER, NO_ANSWER, NO_ANSWER]
    assert _token(9, 0) == MAX_LENGTH - 2  # just before the final [SEP]


def test_answer_on_the_first_context_token_of_a_window(tokenizer: BertTokenizerFast) -> None:
    # w12 opens window 2 and sits inside window 1.
    labels = _labels(tokenizer, _example(12, 12))

    assert labels == [NO_ANSWER, (_token(12, 1),) * 2, (4, 4), NO_ANSWER, NO_ANSWER]


def test_answers_at_the_very_start_and_end_of_the_context(tokenizer: BertTokenizerFast) -> None:
    assert _labels(tokenizer, _example(0, 0)) == [(4, 4)] + [NO_ANSWER] * 4
    assert _labels(tokenizer, _example(29, 29)) == [NO_ANSWER] * 4 + [(_token(29, 4),) * 2]


def test_answer_split_across_windows_is_labelled_only_where_whole(
    tokenizer: BertTokenizerFast,
) -> None:
    # "w8 w9 w10 w11": window 0 ends at w9, window 1 holds all four, window 2 starts at w12.
    labels = _labels(tokenizer, _example(8, 11))

    assert labels == [NO_ANSWER, (_token(8, 1), _token(11, 1)), NO_ANSWER, NO_ANSWER, NO_ANSWER]


def test_negative_example_is_no_answer_in_every_window(tokenizer: BertTokenizerFast) -> None:
    negative = QAExample("q#neg1", "where?", CONTEXT, None, "")

    assert _labels(tokenizer, negative) == [NO_ANSWER] * 5


def test_answer_of_several_word_pieces(tokenizer: BertTokenizerFast) -> None:
    context = "the zebras crossed"
    example = QAExample("q", "where?", context, 4, "zebras")
    features = build_features(tokenizer, [example], MAX_LENGTH, STRIDE)
    start, end = int(features.start_positions[0]), int(features.end_positions[0])

    pieces = tokenizer.convert_ids_to_tokens(features.input_ids[0, start : end + 1].tolist())
    assert pieces == ["zebra", "##s"]


def test_features_come_as_int32_arrays_of_max_length(tokenizer: BertTokenizerFast) -> None:
    examples = [_example(3, 4), QAExample("n", "who?", "ann ran home", None, "")]
    features = build_features(tokenizer, examples, MAX_LENGTH, STRIDE)

    assert len(features) == 6
    assert features.input_ids.shape == features.token_type_ids.shape == (6, MAX_LENGTH)
    assert features.input_ids.dtype == np.int32
    assert features.example_index.tolist() == [0, 0, 0, 0, 0, 1]
    assert len(build_features(tokenizer, [], MAX_LENGTH, STRIDE)) == 0


PROPERTY_WORDS = ["w1", "w2", "zebra", "zebras", "river", "xq", "ann", "dawn", "q9z", "42"]
SEPARATORS = [" ", "  ", ", ", ". ", "\n", " - "]


@st.composite
def _contexts_with_answers(draw: st.DrawFn) -> QAExample:
    words = draw(st.lists(st.sampled_from(PROPERTY_WORDS), min_size=1, max_size=40))
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words) + 1))
    starts, context = [], draw(st.sampled_from(["", " "]))
    for word, separator in zip(words, separators, strict=False):
        starts.append(len(context))
        context += word + separator
    first = draw(st.integers(0, len(words) - 1))
    last = draw(st.integers(first, min(first + 5, len(words) - 1)))
    text = context[starts[first] : starts[last] + len(words[last])]
    return QAExample("q", "where?", context, starts[first], text)


@settings(max_examples=80, deadline=None)
@given(example=_contexts_with_answers())
def test_labelled_windows_decode_to_the_answer(
    tokenizer: BertTokenizerFast, example: QAExample
) -> None:
    max_length, stride = 24, 8  # 19 context tokens a window, a new window every 11
    features = build_features(tokenizer, [example], max_length, stride)
    encoding = tokenizer(
        [example.question],
        [example.context],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    assert features.input_ids.tolist() == encoding["input_ids"]
    labelled = 0
    for window, offsets in enumerate(encoding["offset_mapping"]):
        start, end = int(features.start_positions[window]), int(features.end_positions[window])
        context = [i for i, s in enumerate(encoding.sequence_ids(window)) if s == 1]
        holds_answer = (
            offsets[context[0]][0] <= example.answer_start
            and offsets[context[-1]][1] >= example.answer_end
        )
        assert ((start, end) != NO_ANSWER) == holds_answer
        if holds_answer:
            labelled += 1
            assert example.context[offsets[start][0] : offsets[end][1]] == example.answer_text
    answer_tokens = len(tokenizer(example.answer_text, add_special_tokens=False)["input_ids"])
    if answer_tokens <= 9:  # 19 - 11 + 1: such an answer always fits whole in some window
        assert labelled >= 1


# --- negatives ----------------------------------------------------------------------------


def _article(paragraphs: int, questions_each: int = 2, tag: str = "a") -> tuple[Paragraph, ...]:
    built = []
    for p in range(paragraphs):
        context = f"{tag} paragraph {p}"
        questions = tuple(
            QAExample(f"{tag}{p}-{q}", f"question {q}?", context, 0, tag)
            for q in range(questions_each)
        )
        built.append(Paragraph(context, questions))
    return tuple(built)


def _paragraph_index(context: str) -> int:
    return int(context.rsplit(" ", 1)[1])


def test_negatives_use_another_paragraph_1_to_4_places_later_cycling() -> None:
    article = _article(6, questions_each=5)

    negatives = negative_examples([article], seed=0)

    assert len(negatives) == 30
    offsets = set()
    for negative in negatives:
        own = int(negative.id.split("-")[0][1:])
        offset = (_paragraph_index(negative.context) - own) % 6
        offsets.add(offset)
        assert 1 <= offset <= 4
        assert negative.answer_start is None and negative.answer_text == ""
        assert negative.question.startswith("question")
    assert offsets == {1, 2, 3, 4}
    assert any(_paragraph_index(n.context) < int(n.id.split("-")[0][1:]) for n in negatives)


def test_negatives_are_deterministic_for_a_seed() -> None:
    articles = [_article(6, questions_each=5), _article(3, tag="b")]

    first = negative_examples(articles, seed=7)

    assert first == negative_examples(articles, seed=7)
    assert first != negative_examples(articles, seed=8)


def test_no_negatives_for_a_one_paragraph_article() -> None:
    negatives = negative_examples([_article(1), _article(2, tag="b")], seed=0)

    assert [n.context for n in negatives] == ["b paragraph 1"] * 2 + ["b paragraph 0"] * 2


def test_several_negatives_per_question_use_distinct_paragraphs() -> None:
    negatives = negative_examples([_article(3, questions_each=1)], seed=0, per_question=5)

    by_question: dict[str, set[str]] = {}
    for negative in negatives:
        by_question.setdefault(negative.id.split("#")[0], set()).add(negative.context)
    # Three paragraphs leave two others per question, however many were asked for.
    assert [len(contexts) for contexts in by_question.values()] == [2, 2, 2]


# --- loading ------------------------------------------------------------------------------


def _write_squad(path: Path, paragraphs: list[dict[str, object]]) -> Path:
    data = {"version": "1.0", "canary": "kept", "data": [{"title": "t", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _qa(qid: str, text: str, start: int) -> dict[str, object]:
    return {"id": qid, "question": "  who?", "answers": [{"text": text, "answer_start": start}]}


def test_load_squad_anchors_shifted_offsets_and_drops_unfound_answers(tmp_path: Path) -> None:
    context = "Ann ran home. Bob ran too."
    path = _write_squad(
        tmp_path / "train.json",
        [
            {
                "context": context,
                "qas": [
                    _qa("exact", "Bob", 14),
                    _qa("shifted", "ran", 16),
                    _qa("spaces", " home ", 7),
                    _qa("missing", "Carol", 0),
                ],
            }
        ],
    )

    squad = load_squad(path)

    questions = answer_examples(squad.articles)
    assert [(q.id, q.answer_start, q.answer_text) for q in questions] == [
        ("exact", 14, "Bob"),
        ("shifted", 18, "ran"),  # the occurrence nearest the stated offset
        ("spaces", 8, "home"),
    ]
    assert all(q.question == "who?" for q in questions)
    assert squad.unanchored == 1 and squad.question_count == 3


def test_load_squad_rejects_a_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="cannot read"):
        load_squad(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text('{"version": "1.0"}', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.json"):
        load_squad(tmp_path / "bad.json")


def test_limit_keeps_the_first_questions_and_every_paragraph(tmp_path: Path) -> None:
    paragraphs: list[dict[str, object]] = [
        {"context": f"Ann {i}", "qas": [_qa(f"{i}-{j}", "Ann", 0) for j in range(3)]}
        for i in range(3)
    ]
    files = [load_squad(_write_squad(tmp_path / f"{n}.json", paragraphs)) for n in "ab"]

    limited = limit_questions(files, 4)

    assert [f.question_count for f in limited] == [4, 0]
    assert [q.id for q in answer_examples(limited[0].articles)] == ["0-0", "0-1", "0-2", "1-0"]
    assert [len(article) for f in limited for article in f.articles] == [3, 3]
