"""The reader's ONNX export reads like the checkpoint it was exported from, fp16 and fp32, and
the int8 reader the service derives from the fp16 file at first use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from service.reading.errors import ReaderError
from service.reading.reader import SpanReader
from tests.service.reading.test_reader import (
    LONG_CONTEXT,
    QUESTION,
    SHORT_CONTEXTS,
    TEXTS,
    assert_exact_slices,
)
from tests.tiny_bert import save_tiny_qa
from training.export import export_onnx


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny random BERT QA checkpoint, as `citeqa reader train` saves one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield save_tiny_qa(tmp_path_factory, TEXTS)


@pytest.mark.parametrize("fp16_weights", [False, True])
def test_onnx_export_reads_like_the_checkpoint(
    checkpoint_dir: Path, tmp_path: Path, fp16_weights: bool
) -> None:
    out = tmp_path / "export"
    export_onnx(checkpoint_dir, out, fp16_weights=fp16_weights)
    torch_reader = SpanReader(checkpoint_dir, threads=1, max_length=32)
    onnx_reader = SpanReader(out, threads=1, max_length=32, cache_dir=tmp_path / "cache")
    contexts = [LONG_CONTEXT, *SHORT_CONTEXTS]

    expected = torch_reader.read(QUESTION, contexts, stride=8)
    got = onnx_reader.read(QUESTION, contexts, stride=8)

    # One model file either way: fp16 weights (int8 derived into the cache) or fp32.
    assert sorted(p.name for p in out.glob("*.onnx")) == [
        "model-fp16.onnx" if fp16_weights else "model.onnx"
    ]
    assert len(list((tmp_path / "cache").glob("reader-*-int8.onnx"))) == int(fp16_weights)
    # Windows read side by side on two threads give exactly what one thread gives.
    side_by_side = SpanReader(out, threads=2, max_length=32, cache_dir=tmp_path / "cache")
    assert side_by_side.read(QUESTION, contexts, stride=8) == got
    if fp16_weights:  # int8 moves logits a little; the spans stay exact slices
        assert len(got) == len(expected)
        assert_exact_slices(got, contexts)
    else:
        assert [s.text for s in got] == [s.text for s in expected]
        assert [s.margin for s in got] == pytest.approx([s.margin for s in expected], abs=1e-3)


def test_an_export_replaces_a_model_file_of_the_other_format(
    checkpoint_dir: Path, tmp_path: Path
) -> None:
    export_onnx(checkpoint_dir, tmp_path, fp16_weights=False)
    export_onnx(checkpoint_dir, tmp_path)

    assert [p.name for p in tmp_path.glob("*.onnx")] == ["model-fp16.onnx"]


@pytest.fixture(scope="module")
def tiny_export(checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint exported as citeqa ships a reader: model-fp16.onnx alone."""
    out = tmp_path_factory.mktemp("tiny-export")
    export_onnx(checkpoint_dir, out)
    return out


def _quantise_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Count the int8 derivations (quantiser calls) from here on."""
    from citeqa.onnx import quantize_int8 as quantize
    from service.reading import int8

    calls: list[Path] = []

    def counted(source: Path, target: str | Path) -> None:
        calls.append(Path(target))
        quantize(source, target)

    monkeypatch.setattr(int8, "quantize_int8", counted)
    return calls


def test_int8_is_derived_once_and_reused(
    tiny_export: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.reading.int8 import int8_path

    calls = _quantise_calls(monkeypatch)
    with caplog.at_level("INFO", logger="citeqa"):
        first = SpanReader(tiny_export, threads=1, max_length=32, cache_dir=tmp_path)
    second = SpanReader(tiny_export, threads=1, max_length=32, cache_dir=tmp_path)

    assert len(calls) == 1  # the second reader opened the cached file
    assert int8_path(tiny_export, tmp_path).is_file()
    assert [p.name for p in tmp_path.iterdir()] == [int8_path(tiny_export, tmp_path).name]
    assert sum("preparing the int8 reader once" in r.getMessage() for r in caplog.records) == 1
    assert second.read(QUESTION, SHORT_CONTEXTS) == first.read(QUESTION, SHORT_CONTEXTS)


def test_a_damaged_cached_int8_reader_is_derived_again(
    tiny_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.reading.int8 import int8_path

    good = SpanReader(tiny_export, threads=1, max_length=32, cache_dir=tmp_path)
    cached = int8_path(tiny_export, tmp_path)
    whole = cached.read_bytes()
    cached.write_bytes(whole[: len(whole) // 3])  # a copy cut short
    calls = _quantise_calls(monkeypatch)

    again = SpanReader(tiny_export, threads=1, max_length=32, cache_dir=tmp_path)

    assert len(calls) == 1
    assert cached.read_bytes() == whole  # the quantiser is deterministic
    assert again.read(QUESTION, SHORT_CONTEXTS) == good.read(QUESTION, SHORT_CONTEXTS)


def test_a_cache_that_cannot_be_written_is_a_reader_error(
    tiny_export: Path, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(ReaderError, match=r"cannot write the int8 reader.*CITEQA_MODEL_CACHE_DIR"):
        SpanReader(tiny_export, threads=1, max_length=32, cache_dir=tmp_path / "a-file" / "cache")


def test_the_fp16_file_restores_to_the_fp32_export(checkpoint_dir: Path, tmp_path: Path) -> None:
    """The int8 reader is quantised from the fp32 graph: the same ops, the same weights."""
    import onnx
    from onnx import numpy_helper

    from service.reading.int8 import restore_fp32_weights

    export_onnx(checkpoint_dir, tmp_path / "fp32", fp16_weights=False)
    export_onnx(checkpoint_dir, tmp_path / "fp16")
    restore_fp32_weights(tmp_path / "fp16" / "model-fp16.onnx", tmp_path / "restored.onnx")
    expected = onnx.load(str(tmp_path / "fp32" / "model.onnx")).graph
    got = onnx.load(str(tmp_path / "restored.onnx")).graph

    assert [n.op_type for n in got.node] == [n.op_type for n in expected.node]
    assert [i.name for i in got.initializer] == [i.name for i in expected.initializer]
    for mine, theirs in zip(got.initializer, expected.initializer, strict=True):
        assert mine.data_type == theirs.data_type
        # The tiny model's random weights are fp32: fp16 rounds them (the reference's are
        # fp16 already, and come back exactly).
        np.testing.assert_allclose(
            numpy_helper.to_array(mine), numpy_helper.to_array(theirs), rtol=1e-3, atol=1e-4
        )


def test_deriving_int8_leaves_the_root_logger_as_it_was(
    tiny_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime's quantiser logs through the root logger, whose basicConfig() would leave
    a stderr handler behind for every later warning of any library to print through."""
    import logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a command line: pytest's are set aside
    handlers, level = list(root.handlers), root.level

    SpanReader(tiny_export, threads=1, max_length=32, cache_dir=tmp_path)

    assert root.handlers == handlers and root.level == level
