"""The reader's ONNX export reads like the checkpoint it was exported from, fp32 and int8."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("quantize", [False, True])
def test_onnx_export_reads_like_the_checkpoint(
    checkpoint_dir: Path, tmp_path: Path, quantize: bool
) -> None:
    export_onnx(checkpoint_dir, tmp_path, quantize=quantize)
    torch_reader = SpanReader(checkpoint_dir, threads=1, max_length=32)
    onnx_reader = SpanReader(tmp_path, threads=1, max_length=32)
    contexts = [LONG_CONTEXT, *SHORT_CONTEXTS]

    expected = torch_reader.read(QUESTION, contexts, stride=8)
    got = onnx_reader.read(QUESTION, contexts, stride=8)

    assert (tmp_path / "model.onnx").is_file()
    # Windows read side by side on two threads give exactly what one thread gives.
    side_by_side = SpanReader(tmp_path, threads=2, max_length=32)
    assert side_by_side.read(QUESTION, contexts, stride=8) == got
    if quantize:  # int8 moves logits a little; the spans stay exact slices
        assert len(got) == len(expected)
        assert_exact_slices(got, contexts)
    else:
        assert [s.text for s in got] == [s.text for s in expected]
        assert [s.margin for s in got] == pytest.approx([s.margin for s in expected], abs=1e-3)
