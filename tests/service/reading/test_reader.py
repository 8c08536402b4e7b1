"""The span reader: decoding on hand-made logits, windows and plumbing on a tiny model.

The plumbing tests build a randomly initialised BERT once per session and save it to a
folder, exactly as `citeqa reader train` saves one; the shipped reader is tested on a real
question at the end.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import (  # type: ignore[attr-defined]  # 5.x: BertTokenizerFast is an alias
    BertConfig,
    BertModel,
    BertTokenizerFast,
)

from citeqa.config import packaged_reader_path
from service.reading.errors import ReaderError
from service.reading.reader import Logits, ReaderSpan, SpanReader, TorchLogits
from service.reading.windows import Batch, decode_spans
from tests.tiny_bert import save_tiny_qa

QUESTION = "Where did the zebra cross the river?"
SHORT_CONTEXTS = [
    "  The zebra crossed the   Limpopo river at dawn, said the ranger.  ",
    "Officials in Zürich reported 42 new cases; the mayor, Ana Ruiz, urged calm.",
    "",
]
FILLER = "the city council met again on monday and voted on the budget for schools"
LONG_CONTEXT = " ".join([FILLER] * 6) + " Finally the Zebra crossed the river near Maun."


TEXTS = (QUESTION, *SHORT_CONTEXTS, LONG_CONTEXT)


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny random BERT QA checkpoint saved the way `citeqa reader train` saves one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield save_tiny_qa(tmp_path_factory, TEXTS)


@pytest.fixture(scope="session")
def tokenizer(checkpoint_dir: Path) -> BertTokenizerFast:
    return BertTokenizerFast.from_pretrained(checkpoint_dir, local_files_only=True)


@pytest.fixture(scope="session")
def reader(checkpoint_dir: Path) -> SpanReader:
    return SpanReader(checkpoint_dir, threads=1, max_length=64)


def assert_exact_slices(spans: list[ReaderSpan], contexts: list[str]) -> None:
    for span in spans:
        assert contexts[span.context_index][span.char_start : span.char_end] == span.text
        assert span.text and span.text == span.text.strip()


def _patch_logits(
    monkeypatch: pytest.MonkeyPatch, logits: Callable[[Batch], tuple[Logits, Logits]]
) -> list[Batch]:
    """Replace the model by ``logits(batch) -> (start, end)``; returns the batches seen."""
    seen: list[Batch] = []

    def call(_self: TorchLogits, inputs: Batch) -> tuple[Logits, Logits]:
        seen.append(inputs)
        return logits(inputs)

    monkeypatch.setattr(TorchLogits, "__call__", call)
    return seen


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

    spans = decode_spans(start, end, offsets, max_answer_tokens=max_answer_tokens, top_n=top_n)

    assert [score for _, _, score in spans] == expected_scores
    valid_pairs = {(2 * i, 2 * j + 1) for _, i, j in expected}
    assert all((s, e) in valid_pairs for s, e, _ in spans)
    assert len({(s, e) for s, e, _ in spans}) == len(spans)


# --- SpanReader plumbing on a tiny random model ----------------------------------------


def test_fixture_tokenizer_knows_every_test_word(tokenizer: BertTokenizerFast) -> None:
    # Guards the fixture: an all-[UNK] tokenizer would make the tests below vacuous.
    tokens = tokenizer([QUESTION, *SHORT_CONTEXTS, LONG_CONTEXT])["input_ids"]
    assert all(tokenizer.unk_token_id not in ids for ids in tokens)


def test_spans_are_exact_stripped_non_overlapping_slices(reader: SpanReader) -> None:
    spans = reader.read(QUESTION, SHORT_CONTEXTS, spans_per_context=5)

    assert {span.context_index for span in spans} == {0, 1}  # the empty context has none
    counts = [sum(s.context_index == i for s in spans) for i in (0, 1)]
    assert all(2 <= count <= 5 for count in counts)
    assert_exact_slices(spans, SHORT_CONTEXTS)
    margins = [span.margin for span in spans]
    assert margins == sorted(margins, reverse=True)
    for index in (0, 1):
        mine = sorted((s.char_start, s.char_end) for s in spans if s.context_index == index)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(mine))


def test_long_context_is_read_through_overlapping_windows(
    checkpoint_dir: Path, tokenizer: BertTokenizerFast, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = SpanReader(checkpoint_dir, threads=1, max_length=32, max_answer_tokens=5)

    def zeros(batch: Batch) -> tuple[Logits, Logits]:
        shape = batch.input_ids.shape
        return np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32)

    seen = _patch_logits(monkeypatch, zeros)
    room = 32 - 3 - len(tokenizer(QUESTION, add_special_tokens=False)["input_ids"])
    words = len(re.findall(r"\w+", LONG_CONTEXT)) + 1  # every word is one token, plus "."

    reader.read(QUESTION, [LONG_CONTEXT], stride=8)

    windows = sum(len(b.input_ids) for b in seen)
    assert windows == 1 + -(-(words - room) // (room - 8))  # ceil: each step adds room - 8
    assert all(b.input_ids.shape[1] <= 32 for b in seen)


def test_answer_in_a_late_window_is_found_at_its_offsets(
    checkpoint_dir: Path, tokenizer: BertTokenizerFast, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = SpanReader(checkpoint_dir, threads=1, max_length=32)
    zebra = tokenizer.convert_tokens_to_ids("zebra")

    def pointing(inputs: Batch) -> tuple[Logits, Logits]:
        # Logits that point at "zebra" (also in the question, which must be skipped) and
        # give every window's CLS token a null score of 1 + 2, except one lower window.
        start = (inputs.input_ids == zebra).astype(np.float32) * 10.0
        end = start.copy()
        start[:, 0], end[:, 0] = 1.0, 2.0
        return start, end

    _patch_logits(monkeypatch, pointing)

    spans = reader.read(QUESTION, [FILLER, LONG_CONTEXT], spans_per_context=3)

    zebra_start = LONG_CONTEXT.index("Zebra")
    assert spans[0] == ReaderSpan(1, zebra_start, zebra_start + 5, "Zebra", 20.0, 3.0)
    assert spans[0].margin == 17.0
    assert all(span.score < 20.0 for span in spans[1:])  # found once despite the overlap


def test_null_score_is_the_lowest_cls_score_of_the_passage(
    checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = SpanReader(checkpoint_dir, threads=1, max_length=32)

    calls = itertools.count()

    def falling_null(inputs: Batch) -> tuple[Logits, Logits]:
        # Each window read gets a lower CLS score than the one before, so only the
        # minimum over the passage's windows is the last window's, a known value.
        start = np.zeros(inputs.input_ids.shape, dtype=np.float32)
        for row in range(len(start)):
            start[row, 0] = -float(next(calls))
        return start, np.zeros_like(start)

    _patch_logits(monkeypatch, falling_null)
    spans = reader.read(QUESTION, [LONG_CONTEXT], stride=8)

    window_count = len(reader._windows(QUESTION, [LONG_CONTEXT], None, 8))
    assert window_count > 2
    assert {span.null_score for span in spans} == {-(window_count - 1.0)}


def test_focused_window_holds_the_focus_and_fits(checkpoint_dir: Path) -> None:
    reader = SpanReader(checkpoint_dir, threads=1, max_length=32)
    focus = LONG_CONTEXT.index("Zebra")
    windows = reader._windows(QUESTION, [LONG_CONTEXT, SHORT_CONTEXTS[0]], [focus, 0], 8)

    assert [w.context_index for w in windows] == [0, 1]
    covered = [o for o in windows[0].offsets if o is not None]
    assert covered[0][0] <= focus < covered[-1][1]
    assert len(windows[0].input_ids) == 32
    short = [o for o in windows[1].offsets if o is not None]
    assert short[0][0] == 2 and short[-1][1] == len(SHORT_CONTEXTS[0].rstrip())


def test_results_are_deterministic_and_batch_size_free(checkpoint_dir: Path) -> None:
    one = SpanReader(checkpoint_dir, threads=1, max_length=32, batch_size=1)
    many = SpanReader(checkpoint_dir, threads=1, max_length=32, batch_size=64)
    contexts = [LONG_CONTEXT, *SHORT_CONTEXTS]

    first = one.read(QUESTION, contexts, stride=8)

    assert one.read(QUESTION, contexts, stride=8) == first
    other = many.read(QUESTION, contexts, stride=8)
    assert [s.text for s in other] == [s.text for s in first]
    assert [s.margin for s in other] == pytest.approx([s.margin for s in first], abs=1e-4)


def test_no_contexts_give_no_spans(reader: SpanReader) -> None:
    assert reader.read(QUESTION, []) == []


def test_empty_question_and_mismatched_focuses_are_rejected(reader: SpanReader) -> None:
    with pytest.raises(ValueError, match="question must not be empty"):
        reader.read("  ", SHORT_CONTEXTS)
    with pytest.raises(ValueError, match="one focus per context"):
        reader.read(QUESTION, SHORT_CONTEXTS, focuses=[0])


def test_long_question_is_cut_to_leave_room_for_context(checkpoint_dir: Path) -> None:
    reader = SpanReader(checkpoint_dir, threads=1, max_length=96)

    spans = reader.read(" ".join(["zebra"] * 200), [SHORT_CONTEXTS[0]])

    assert spans
    assert_exact_slices(spans, [SHORT_CONTEXTS[0]])


def test_missing_folder_raises_reader_error(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match=r"tokenizer\.json is missing"):
        SpanReader(tmp_path / "no-such-model")


def test_folder_without_a_model_raises_reader_error(checkpoint_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_bytes((checkpoint_dir / "tokenizer.json").read_bytes())
    with pytest.raises(
        ReaderError, match=r"neither model-fp16\.onnx nor a Hugging Face checkpoint"
    ):
        SpanReader(tmp_path)


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
        SpanReader(tmp_path)


# --- ONNX export and the shipped reader -------------------------------------------------


def test_the_shipped_folder_holds_one_reader_file() -> None:
    from citeqa.onnx import open_session

    folder = packaged_reader_path()

    assert [p.name for p in folder.glob("*.onnx")] == ["model-fp16.onnx"]
    # ONNX Runtime loads the shipped file itself (the fp32 graph, weights cast at load).
    session = open_session(folder / "model-fp16.onnx")
    ids = np.array([[101, 2129, 102, 2054, 102]], dtype=np.int64)
    start, end = session.run(
        {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": ids * 0}
    )
    assert start.shape == end.shape == (1, 5)


def test_shipped_reader_answers_a_real_question() -> None:
    reader = SpanReader(packaged_reader_path())
    contexts = [
        "Following the extradition of the 37 inmates, the US Justice Department praised Mexico.",
        "To date, Mexico has extradited 92 high-profile criminals wanted by US law enforcement.",
        "The weather in Oslo was cold and grey for most of the week.",
    ]

    spans = reader.read("How many people has Mexico extradited to date?", contexts)

    assert spans[0].text == "92" and spans[0].context_index == 1
    assert spans[0].margin > 0
    best_of_weather = max(s.margin for s in spans if s.context_index == 2)
    assert best_of_weather < 0  # the reader says "not in this passage"


def test_a_preferred_span_wins_only_a_near_tie() -> None:
    from service.reading.reader import TIE_MARGIN, _preferred

    context = "37 inmates were flown out"
    ranked = [((0, 10), 5.0), ((0, 2), 5.0 - TIE_MARGIN / 2), ((11, 15), 4.0)]

    assert _preferred(ranked, 0, 10, 5.0, context, str.isdigit) == (0, 2, 5.0 - TIE_MARGIN / 2)
    far = [((0, 10), 5.0), ((0, 2), 5.0 - 2 * TIE_MARGIN)]
    assert _preferred(far, 0, 10, 5.0, context, str.isdigit) == (0, 10, 5.0)


# --- OpenVINO bf16 and the choice between runtimes ------------------------------------------

MEXICO = [
    "Following the extradition of the 37 inmates, the US Justice Department praised Mexico.",
    "To date, Mexico has extradited 92 high-profile criminals wanted by US law enforcement.",
    "The weather in Oslo was cold and grey for most of the week.",
]


def test_openvino_bf16_reads_like_fp32(tmp_path: Path) -> None:
    question = "How many people has Mexico extradited to date?"
    # The fp32 reference: ONNX Runtime on the fp16-weight file (the checkpoint, exactly).
    fp32_dir = tmp_path / "fp32"
    fp32_dir.mkdir()
    for source, target in [("model-fp16.onnx", "model.onnx"), ("tokenizer.json", "tokenizer.json")]:
        (fp32_dir / target).write_bytes((packaged_reader_path() / source).read_bytes())
    bf16 = SpanReader(packaged_reader_path(), backend="openvino-bf16", cache_dir=tmp_path)

    expected = SpanReader(fp32_dir).read(question, MEXICO)
    got = bf16.read(question, MEXICO)

    assert bf16.backend is not None and bf16.backend.backend == "openvino-bf16"
    assert got[0].text == "92" and got[0].context_index == 1
    assert [s.text for s in got[:3]] == [s.text for s in expected[:3]]
    # bf16 keeps 8 bits of mantissa: margins move by tenths of a logit, not whole ones
    # (int8 moved the third one by 1.1); where the CPU has no bf16 units OpenVINO runs f32.
    assert [s.margin for s in got[:3]] == pytest.approx([s.margin for s in expected[:3]], abs=0.5)
    assert_exact_slices(got, MEXICO)


def test_openvino_bf16_needs_the_fp16_weights(tmp_path: Path) -> None:
    # An int8 model.onnx from before, alone: here the fp16-weight file under that name.
    shipped = packaged_reader_path() / "model-fp16.onnx"
    (tmp_path / "model.onnx").write_bytes(shipped.read_bytes())
    (tmp_path / "tokenizer.json").write_bytes(
        (packaged_reader_path() / "tokenizer.json").read_bytes()
    )

    with pytest.raises(ReaderError, match=r"no model-fp16\.onnx.*CITEQA_READER_BACKEND=onnx-int8"):
        SpanReader(tmp_path, backend="openvino-bf16")
    # auto falls back to int8 and says why.
    reader = SpanReader(tmp_path, backend="auto", cache_dir=tmp_path)
    assert reader.backend is not None and reader.backend.backend == "onnx-int8"
    assert "no model-fp16.onnx" in reader.backend.reason


@pytest.fixture
def fresh_cache(tmp_path: Path, model_cache: Path) -> Path:
    """An empty model cache but for the shipped reader's int8 file, derived once a session."""
    from service.reading.int8 import ensure_int8

    derived = ensure_int8(packaged_reader_path(), model_cache)
    (tmp_path / derived.name).write_bytes(derived.read_bytes())
    return tmp_path


def test_auto_on_this_machine_keeps_int8_without_bf16_units(fresh_cache: Path) -> None:
    """Where the CPU lacks AMX and AVX512-BF16, auto is int8 without timing anything."""
    from citeqa.hardware import BF16_FLAGS, cpu_flags

    tmp_path = fresh_cache
    reader = SpanReader(packaged_reader_path(), backend="auto", cache_dir=tmp_path)

    assert reader.backend is not None
    if not any(flag in cpu_flags() for flag in BF16_FLAGS):
        assert reader.backend.backend == "onnx-int8"
        assert "neither amx_bf16 nor avx512_bf16" in reader.backend.reason
    else:  # timed once, and the decision kept beside the model cache
        assert "timed at first start" in reader.backend.reason
        assert (tmp_path / "backend-choice.json").is_file()
    assert reader.read("How many people has Mexico extradited to date?", MEXICO)[0].text == "92"


def test_the_service_logs_which_backend_reads_and_why(
    fresh_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from citeqa.config import Settings
    from service.state import make_reader

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, reader_backend="auto", model_cache_dir=fresh_cache
    )
    with caplog.at_level("INFO", logger="citeqa"):
        reader = make_reader(settings)

    assert reader is not None and reader.backend is not None
    assert f"reader backend: {reader.backend.backend} ({reader.backend.reason})" in caplog.text


class _Recorder:
    """A fake session that records the shape of every call and the thread it ran on."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.threads: set[str] = set()

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        import threading
        import time

        self.shapes.append(feed["input_ids"].shape)
        self.threads.add(threading.current_thread().name)
        time.sleep(0.002)  # long enough that the pool's next window starts another thread
        return [np.zeros(feed["input_ids"].shape, np.float32)] * 2


def test_auto_times_the_windows_as_each_runtime_serves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """int8: one window a call, calls side by side; bf16: every window in one call."""
    import json

    from citeqa import hardware
    from service.reading import backends

    int8, bf16 = _Recorder(), _Recorder()
    opened: list[tuple[str, str, int]] = []

    def open_bf16(path: Path, runtime: str, threads: int, *_: object) -> _Recorder:
        opened.append((path.name, runtime, threads))
        return bf16

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.setattr(hardware, "openvino_version", lambda: "test")
    monkeypatch.setattr(backends, "open_int8", lambda *_: int8)
    monkeypatch.setattr(backends, "open_session", open_bf16)

    choice = backends.resolve_reader_backend(packaged_reader_path(), "auto", tmp_path, threads=2)

    windows, tokens = backends.TIMING_WINDOWS, backends.TIMING_TOKENS
    assert opened == [("model-fp16.onnx", "openvino-bf16", 2)]
    assert set(int8.shapes) == {(1, tokens)} and set(bf16.shapes) == {(windows, tokens)}
    assert len(int8.shapes) == windows * len(bf16.shapes)
    assert len(int8.threads) > 1  # the int8 windows ran on the pool, as served
    assert "timed at first start" in choice.reason
    # The plan is part of what the cached choice is kept under.
    (key,) = json.loads((tmp_path / "backend-choice.json").read_text())
    assert f"{windows}x{tokens} on 2 threads" in key


def test_bf16_warms_every_shape_a_question_can_take(tmp_path: Path) -> None:
    from citeqa.onnx import PAD_TOKENS

    reader = SpanReader(
        packaged_reader_path(), backend="openvino-bf16", cache_dir=tmp_path, max_length=150
    )
    seen: list[tuple[int, int]] = []
    model = reader.model

    def recording(inputs: Batch) -> tuple[Logits, Logits]:
        seen.append(inputs.input_ids.shape)
        return model(inputs)

    reader.model = recording

    assert reader.warm_up(3) == len(seen) == 3 * 9
    # Widths as OpenVINO will see them, padded: every multiple of 16 from 32 to the window's.
    padded = {-(-width // PAD_TOKENS) * PAD_TOKENS for _, width in seen}
    assert padded == set(range(32, 161, PAD_TOKENS)) and max(w for _, w in seen) == 150
    assert {rows for rows, _ in seen} == {1, 2, 3}


def test_int8_has_no_shapes_to_warm(fresh_cache: Path) -> None:
    reader = SpanReader(packaged_reader_path(), backend="onnx-int8", cache_dir=fresh_cache)

    assert reader.warm_up(3) == 0


class _Blocking:
    """A fake session whose calls wait for ``release`` when ``hold`` is set."""

    def __init__(self, name: str, calls: list[str]) -> None:
        import threading

        self.name = name
        self.calls = calls
        self.input_names = frozenset({"input_ids"})
        self.output_width: int | None = None
        self.hold = threading.Event()
        self.release = threading.Event()
        self.entered = threading.Event()

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.calls.append(self.name)
        self.entered.set()
        assert "input_ids" in feed
        if self.hold.is_set():
            self.release.wait(5)
        return []


def test_a_busy_aware_reader_reads_alone_on_every_thread_and_beside_others_on_one() -> None:
    import threading

    from citeqa.onnx import RECENT, BusyAwareSession

    calls: list[str] = []
    alone, beside = _Blocking("alone", calls), _Blocking("beside", calls)
    session = BusyAwareSession(alone, beside)
    feed = {"input_ids": np.zeros((1, 4), np.int64)}

    session.run(feed)
    session.run(feed)
    assert calls == ["alone", "alone"]  # one client: its reads never overlap

    alone.hold.set()  # a read that takes a while...
    first = threading.Thread(target=session.run, args=(feed,))
    first.start()
    assert alone.entered.wait(5)
    session.run(feed)  # ...and one that starts meanwhile
    alone.release.set()
    first.join(5)
    assert calls[2:] == ["alone", "beside"]

    # Both overlapped: the next reads stay on one thread until RECENT have run alone.
    calls.clear()
    for _ in range(RECENT + 2):
        session.run(feed)
    assert calls == ["beside"] * RECENT + ["alone"] * 2
