"""The optional neural reader: span decoding on hand-made logits, plumbing on a tiny model.

No QA checkpoint ships offline, so the plumbing tests build a randomly initialised BERT
once per session and save it to a folder, exactly as a user's checkpoint would be found.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (  # type: ignore[attr-defined]  # 5.x: BertTokenizerFast is an alias
    BertConfig,
    BertForQuestionAnswering,
    BertModel,
    BertTokenizerFast,
    RobertaConfig,
    RobertaForQuestionAnswering,
    RobertaTokenizerFast,
)
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from service.reading.errors import ReaderError
from service.reading.neural_reader import NeuralReader, ReaderSpan, decode_spans

QUESTION = "Where did the zebra cross the river?"
SHORT_CONTEXTS = [
    "  The zebra crossed the   Limpopo river at dawn, said the ranger.  ",
    "Officials in Zürich reported 42 new cases; the mayor, Ana Ruiz, urged calm.",
    "",
]
FILLER = "the city council met again on monday and voted on the budget for schools"
LONG_CONTEXT = " ".join([FILLER] * 6) + " Finally the Zebra crossed the river near Maun."


def _vocabulary() -> list[str]:
    words = {w for text in [QUESTION, *SHORT_CONTEXTS, LONG_CONTEXT] for w in _words(text)}
    characters = string.ascii_lowercase + string.digits
    return [
        *["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        *sorted(words),
        *(c for c in characters + string.punctuation if c not in words),
        *(f"##{c}" for c in characters),
    ]


def _words(text: str) -> list[str]:
    # The tokenizer lower-cases and strips accents, so the vocabulary must too.
    return re.findall(r"\w+", text.lower().replace("ü", "u"))


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny random BERT QA checkpoint saved the way a user's would be."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        vocab_dir = tmp_path_factory.mktemp("vocab")
        (vocab_dir / "vocab.txt").write_text("\n".join(_vocabulary()) + "\n", encoding="utf-8")
        # from_pretrained, not BertTokenizerFast(vocab_file=...): transformers 5 ignores
        # vocab_file in the constructor and silently builds a 5-token vocabulary.
        tokenizer = BertTokenizerFast.from_pretrained(vocab_dir, local_files_only=True)
        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
        )
        folder = tmp_path_factory.mktemp("tiny-qa")
        BertForQuestionAnswering(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        yield folder


@pytest.fixture(scope="session")
def roberta_checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny random RoBERTa: no token_type_ids, <s> as CLS, spaces inside token offsets."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        # Byte-level BPE without merges: one token per character, and with trim_offsets
        # off a space token's offsets cover the space, as some real checkpoints do.
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        vocab = {token: i for i, token in enumerate(specials + sorted(ByteLevel.alphabet()))}
        tokenizer = RobertaTokenizerFast(vocab=vocab, merges=[], trim_offsets=False)
        torch.manual_seed(0)
        config = RobertaConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=130,
        )
        folder = tmp_path_factory.mktemp("tiny-roberta-qa")
        RobertaForQuestionAnswering(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        yield folder


@pytest.fixture(scope="session")
def tokenizer(checkpoint_dir: Path) -> BertTokenizerFast:
    return BertTokenizerFast.from_pretrained(checkpoint_dir, local_files_only=True)


@pytest.fixture(scope="session")
def reader(checkpoint_dir: Path) -> NeuralReader:
    return NeuralReader(checkpoint_dir, max_seq_length=64, doc_stride=16)


def _assert_exact_slices(spans: list[ReaderSpan], contexts: list[str]) -> None:
    for span in spans:
        assert contexts[span.context_index][span.char_start : span.char_end] == span.text
        assert span.text and span.text == span.text.strip()


# --- decode_spans on hand-made logits ---------------------------------------------------

# Token layout: [CLS] q q [SEP] c c c c c c [SEP]; context tokens cover "w0 w1 ... w5".
OFFSETS: list[tuple[int, int] | None] = (
    [None, None, None, None] + [(3 * i, 3 * i + 2) for i in range(6)] + [None]
)
CONTEXT_TOKENS = range(4, 10)


def _token_of_start(char_start: int) -> int:
    return next(i for i, o in enumerate(OFFSETS) if o is not None and o[0] == char_start)


def _token_of_end(char_end: int) -> int:
    return next(i for i, o in enumerate(OFFSETS) if o is not None and o[1] == char_end)


def test_decode_returns_the_argmax_pair() -> None:
    start, end = np.zeros(11), np.zeros(11)
    start[5], end[7] = 4.0, 3.0

    best = decode_spans(start, end, OFFSETS, max_answer_tokens=30, top_n=1)

    assert best == [(OFFSETS[5][0], OFFSETS[7][1], 7.0)]  # type: ignore[index]


def test_decode_never_returns_an_end_before_its_start() -> None:
    start, end = np.zeros(11), np.zeros(11)
    start[8], end[5] = 10.0, 10.0  # the best unconstrained pair runs backwards

    spans = decode_spans(start, end, OFFSETS, max_answer_tokens=30, top_n=100)

    assert spans
    assert all(_token_of_start(s) <= _token_of_end(e) for s, e, _ in spans)
    assert spans[0][2] == 10.0  # one of the two peaks, never both


def test_decode_excludes_spans_longer_than_max_answer_tokens() -> None:
    start, end = np.zeros(11), np.zeros(11)
    start[4], end[9] = 10.0, 10.0  # a 6-token span would win without the limit

    spans = decode_spans(start, end, OFFSETS, max_answer_tokens=3, top_n=100)

    lengths = [_token_of_end(e) - _token_of_start(s) + 1 for s, e, _ in spans]
    assert spans and max(lengths) <= 3
    assert (OFFSETS[4][0], OFFSETS[9][1]) not in {(s, e) for s, e, _ in spans}  # type: ignore[index]
    assert len(spans) == 6 + 5 + 4  # every context span of 1, 2 or 3 tokens


def test_decode_never_chooses_question_or_special_tokens() -> None:
    start, end = np.zeros(11), np.zeros(11)
    start[:4], end[:4] = 50.0, 50.0  # question and CLS tokens have the highest logits
    start[10], end[10] = 50.0, 50.0  # and so does the final [SEP]

    spans = decode_spans(start, end, OFFSETS, max_answer_tokens=30, top_n=1000)

    assert len(spans) == 6 * 7 // 2  # exactly the context-only pairs
    assert all(_token_of_start(s) in CONTEXT_TOKENS for s, _, _ in spans)
    assert all(score == 0.0 for _, _, score in spans)


def test_decode_returns_top_n_best_first() -> None:
    start = np.array([0, 0, 0, 0, 1.0, 5.0, 2.0, 0, 0, 0, 0])
    end = np.array([0, 0, 0, 0, 0, 4.0, 3.0, 0.5, 0, 0, 0])

    spans = decode_spans(start, end, OFFSETS, max_answer_tokens=30, top_n=4)

    assert [(_token_of_start(s), _token_of_end(e), x) for s, e, x in spans] == [
        (5, 5, 9.0),
        (5, 6, 8.0),
        (5, 7, 5.5),
        (4, 5, 5.0),  # ties with (6, 6, 5.0): the earlier start goes first
    ]


def test_decode_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="one entry per token"):
        decode_spans(np.zeros(3), np.zeros(3), OFFSETS, max_answer_tokens=30, top_n=1)


@settings(max_examples=200, deadline=None)
@given(
    logits=st.lists(
        st.tuples(st.integers(-20, 20), st.integers(-20, 20), st.booleans()),
        min_size=1,
        max_size=25,
    ),
    max_answer_tokens=st.integers(1, 6),
    top_n=st.integers(1, 8),
)
def test_decode_matches_a_brute_force_search(
    logits: list[tuple[int, int, bool]], max_answer_tokens: int, top_n: int
) -> None:
    start = np.array([float(s) for s, _, _ in logits])
    end = np.array([float(e) for _, e, _ in logits])
    offsets = [(2 * i, 2 * i + 1) if inside else None for i, (_, _, inside) in enumerate(logits)]
    expected = sorted(
        (start[i] + end[j], i, j)
        for i in range(len(logits))
        for j in range(i, min(i + max_answer_tokens, len(logits)))
        if offsets[i] is not None and offsets[j] is not None
    )
    expected_scores = sorted((score for score, _, _ in expected), reverse=True)[:top_n]

    spans = decode_spans(start, end, offsets, max_answer_tokens, top_n)

    assert [score for _, _, score in spans] == expected_scores
    valid_pairs = {(2 * i, 2 * j + 1) for _, i, j in expected}
    assert all((s, e) in valid_pairs for s, e, _ in spans)
    assert len({(s, e) for s, e, _ in spans}) == len(spans)


# --- NeuralReader plumbing on a tiny random model ---------------------------------------


def test_fixture_tokenizer_knows_every_test_word(tokenizer: BertTokenizerFast) -> None:
    # Guards the fixture: an all-[UNK] tokenizer would make the tests below vacuous.
    tokens = tokenizer([QUESTION, *SHORT_CONTEXTS, LONG_CONTEXT])["input_ids"]
    assert all(tokenizer.unk_token_id not in ids for ids in tokens)


def test_every_span_is_an_exact_stripped_slice(reader: NeuralReader) -> None:
    spans = reader.extract(QUESTION, SHORT_CONTEXTS, top_n=200)

    assert len(spans) > 20
    assert {span.context_index for span in spans} == {0, 1}  # the empty context has none
    _assert_exact_slices(spans, SHORT_CONTEXTS)
    scores = [span.score for span in spans]
    assert scores == sorted(scores, reverse=True)
    assert len({(s.context_index, s.char_start, s.char_end) for s in spans}) == len(spans)


def test_long_context_is_read_through_several_windows(
    checkpoint_dir: Path, tokenizer: BertTokenizerFast
) -> None:
    reader = NeuralReader(checkpoint_dir, max_seq_length=32, doc_stride=8, max_answer_tokens=5)
    # A 32-token window holds 32 - 3 special - question tokens of context, and every word
    # here is one token, so the first window ends at the word with that number.
    context_room = 32 - 3 - len(tokenizer(QUESTION, add_special_tokens=False)["input_ids"])
    first_window_end = [m.end() for m in re.finditer(r"\w+", LONG_CONTEXT)][context_room - 1]

    spans = reader.extract(QUESTION, [LONG_CONTEXT], top_n=1000)

    _assert_exact_slices(spans, [LONG_CONTEXT])
    assert max(span.char_start for span in spans) > len(LONG_CONTEXT) - 20
    late = [span for span in spans if span.char_start > first_window_end]
    assert len(late) > len(spans) // 2


def test_answer_in_a_late_window_is_found_at_its_offsets(
    checkpoint_dir: Path, tokenizer: BertTokenizerFast, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = NeuralReader(checkpoint_dir, max_seq_length=32, doc_stride=8)
    zebra = tokenizer.convert_tokens_to_ids("zebra")

    def pointing_forward(
        self: BertForQuestionAnswering, input_ids: torch.Tensor, **_: object
    ) -> QuestionAnsweringModelOutput:
        # Logits that point at "zebra" (also in the question, which must be skipped) and
        # give every window's CLS token a known null score of 1 + 2.
        start = (input_ids == zebra).float() * 10.0
        end = (input_ids == zebra).float() * 10.0
        start[:, 0], end[:, 0] = 1.0, 2.0
        return QuestionAnsweringModelOutput(start_logits=start, end_logits=end)

    monkeypatch.setattr(BertForQuestionAnswering, "forward", pointing_forward)
    contexts = [FILLER, LONG_CONTEXT]

    spans = reader.extract(QUESTION, contexts, top_n=3)

    zebra_start = LONG_CONTEXT.index("Zebra")
    assert spans[0] == ReaderSpan(1, zebra_start, zebra_start + 5, "Zebra", 20.0, 3.0)
    assert all(span.score < 20.0 for span in spans[1:])  # found once despite overlapping windows


def test_span_seen_by_two_windows_is_reported_once_with_its_best_score(
    checkpoint_dir: Path, tokenizer: BertTokenizerFast, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = NeuralReader(checkpoint_dir, max_seq_length=32, doc_stride=8)
    zebra = tokenizer.convert_tokens_to_ids("zebra")
    context_scores: list[float] = []

    def position_forward(
        self: BertForQuestionAnswering,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        **_: object,
    ) -> QuestionAnsweringModelOutput:
        # "zebra" scores higher the later it sits in a window, so each window differs.
        positions = torch.arange(input_ids.shape[1], dtype=torch.float32).expand_as(input_ids)
        start = (input_ids == zebra).float() * (10.0 + positions / 100)
        in_context = (input_ids == zebra) & (token_type_ids == 1)
        context_scores.extend((2 * start[in_context]).tolist())
        return QuestionAnsweringModelOutput(start_logits=start, end_logits=start.clone())

    monkeypatch.setattr(BertForQuestionAnswering, "forward", position_forward)
    # The 15 filler words fill most of the first window, so "zebra" lies in the overlap.
    context = f"{FILLER} zebra {FILLER} {FILLER}"

    spans = reader.extract(QUESTION, [context], top_n=5)

    assert len(context_scores) >= 2  # the word really was seen by two windows
    zebra_spans = [span for span in spans if span.text == "zebra"]
    assert len(zebra_spans) == 1
    assert zebra_spans[0].score == pytest.approx(max(context_scores))


def test_byte_level_tokenizer_spans_are_trimmed_exact_slices(
    roberta_checkpoint_dir: Path,
) -> None:
    reader = NeuralReader(roberta_checkpoint_dir, max_seq_length=64, doc_stride=16)
    contexts = [LONG_CONTEXT, *SHORT_CONTEXTS]

    # Every candidate, not just the best: a random model need not rank space tokens high.
    spans = reader.extract(QUESTION, contexts, top_n=100_000)

    assert len(spans) > 5_000
    _assert_exact_slices(spans, contexts)  # fails if a space token's offsets were kept


def test_results_are_deterministic(reader: NeuralReader, checkpoint_dir: Path) -> None:
    first = reader.extract(QUESTION, SHORT_CONTEXTS, top_n=10)

    assert reader.extract(QUESTION, SHORT_CONTEXTS, top_n=10) == first
    reloaded = NeuralReader(checkpoint_dir, max_seq_length=64, doc_stride=16)
    assert reloaded.extract(QUESTION, SHORT_CONTEXTS, top_n=10) == first


def test_batch_size_does_not_change_the_spans(checkpoint_dir: Path) -> None:
    one = NeuralReader(checkpoint_dir, max_seq_length=32, doc_stride=8, batch_size=1)
    many = NeuralReader(checkpoint_dir, max_seq_length=32, doc_stride=8, batch_size=64)

    one_spans = one.extract(QUESTION, [LONG_CONTEXT, *SHORT_CONTEXTS], top_n=20)
    many_spans = many.extract(QUESTION, [LONG_CONTEXT, *SHORT_CONTEXTS], top_n=20)

    assert [s.text for s in one_spans] == [s.text for s in many_spans]
    assert [s.score for s in one_spans] == pytest.approx([s.score for s in many_spans], abs=1e-4)


def test_no_contexts_give_no_spans(reader: NeuralReader) -> None:
    assert reader.extract(QUESTION, []) == []


def test_question_too_long_for_a_window_is_rejected(checkpoint_dir: Path) -> None:
    reader = NeuralReader(checkpoint_dir, max_seq_length=32, doc_stride=8)

    with pytest.raises(ValueError, match="shorten it or raise max_seq_length"):
        reader.extract(" ".join(["zebra"] * 25), [LONG_CONTEXT])


def test_missing_folder_raises_reader_error(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match=r"CITEQA_READER_MODEL=.*is not a folder"):
        NeuralReader(tmp_path / "no-such-model")


def test_folder_without_a_checkpoint_raises_reader_error(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="does not hold a loadable extractive-QA checkpoint"):
        NeuralReader(tmp_path)


def test_checkpoint_without_a_qa_head_raises_reader_error(
    checkpoint_dir: Path, tmp_path: Path
) -> None:
    # E.g. CITEQA_READER_MODEL pointing at the embedding model: the QA head would be random.
    config = BertConfig.from_pretrained(checkpoint_dir, local_files_only=True)
    BertModel(config).save_pretrained(tmp_path)
    BertTokenizerFast.from_pretrained(checkpoint_dir, local_files_only=True).save_pretrained(
        tmp_path
    )

    with pytest.raises(ReaderError, match="lacks trained question-answering weights"):
        NeuralReader(tmp_path)


def test_stride_not_below_window_length_is_rejected(checkpoint_dir: Path) -> None:
    with pytest.raises(ValueError, match="doc_stride"):
        NeuralReader(checkpoint_dir, max_seq_length=32, doc_stride=32)
