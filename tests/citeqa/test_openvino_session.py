"""OpenVINO sessions pad tokens to a tile's multiple and give back outputs of the width asked."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from citeqa import onnx as ov_session
from citeqa.config import packaged_reader_path
from citeqa.onnx import PAD_TOKENS, OpenVinoSession
from citeqa.onnx_graph import blob_folder, kept_simplified, openvino_model

pytest.importorskip("openvino")
READER = packaged_reader_path() / "model-fp16.onnx"


def _feed(batch: int, width: int, real: list[int]) -> dict[str, np.ndarray]:
    ids = np.random.default_rng(width).integers(1000, 20000, (batch, width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, length in enumerate(real):
        mask[row, :length] = 1
    return {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


@pytest.fixture(scope="module")
def f32_reader(tmp_path_factory: pytest.TempPathFactory) -> OpenVinoSession:
    # f32, so that padding's only effect can be seen: bf16 rounds differently per shape.
    return OpenVinoSession(READER, "f32", threads=1, cache_dir=tmp_path_factory.mktemp("ov"))


def test_padding_leaves_every_real_token_as_it_was(
    f32_reader: OpenVinoSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    width = 3 * PAD_TOKENS + 5  # not a multiple: the session pads 11 tokens
    feed = _feed(2, width, [width, width - 20])

    padded = f32_reader.run(feed)
    monkeypatch.setattr(ov_session, "PAD_TOKENS", 1)
    unpadded = f32_reader.run(feed)

    assert [o.shape for o in padded] == [(2, width), (2, width)]  # cut back to the width given
    for got, expected in zip(padded, unpadded, strict=True):
        # Logits at real tokens only: masked positions are never read.
        assert got[0] == pytest.approx(expected[0], abs=1e-3)
        assert got[1, : width - 20] == pytest.approx(expected[1, : width - 20], abs=1e-3)


def test_a_width_already_a_multiple_is_run_as_given(f32_reader: OpenVinoSession) -> None:
    outputs = f32_reader.run(_feed(1, 2 * PAD_TOKENS, [2 * PAD_TOKENS]))

    assert [o.shape for o in outputs] == [(1, 2 * PAD_TOKENS)] * 2


def test_an_embedders_hidden_states_are_cut_and_its_pooled_output_is_not(
    tmp_path: Path,
) -> None:
    """A model with a per-token output and a pooled one: only the first has a token axis."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    hidden = helper.make_node("Cast", ["input_ids"], ["hidden"], to=TensorProto.FLOAT)
    axes = helper.make_node(
        "Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [1], [1])
    )
    pooled = helper.make_node("ReduceSum", ["hidden", "axes"], ["pooled"], keepdims=1)
    graph = helper.make_graph(
        [hidden, axes, pooled],
        "toy",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"])],
        [
            helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens"]),
            helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 1]),
        ],
    )
    path = tmp_path / "toy.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    session = OpenVinoSession(path, "f32")

    ids = np.arange(1, 6, dtype=np.int64)[None, :]
    hidden_out, pooled_out = session.run({"input_ids": ids, "attention_mask": ids})

    assert hidden_out.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0]]
    # (batch, 1) has no token axis; padding ids are 0, so the sum is unchanged.
    assert pooled_out.tolist() == [[15.0]]


def test_a_cache_folder_that_cannot_be_made_only_costs_the_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")

    with caplog.at_level("WARNING", logger="citeqa"):
        session = OpenVinoSession(READER, "bf16", cache_dir=blocked / "openvino")

    assert "compiling without a cache" in caplog.text
    assert [o.shape for o in session.run(_feed(1, 20, [20]))] == [(1, 20), (1, 20)]


def test_one_thread_and_two_give_the_same_logits(tmp_path: Path) -> None:
    """The busy-aware reader switches compilations with the load: answers must not."""
    two = OpenVinoSession(READER, "bf16", threads=2, cache_dir=tmp_path)
    one = OpenVinoSession(READER, "bf16", threads=1, side_by_side=2, cache_dir=tmp_path)
    feed = _feed(3, 143, [143, 120, 97])

    for got, expected in zip(one.run(feed), two.run(feed), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_the_attention_is_compiled_simplified_and_reads_as_the_full_graph(
    f32_reader: OpenVinoSession,
) -> None:
    """OpenVINO keeps the export's NaN guards unless they are taken out before it reads the
    file; taken out, no logit at a real token moves (f32, so only the graph differs)."""
    import openvino

    core = openvino.Core()
    ops = {op.get_type_name() for op in core.read_model(str(READER)).get_ops()}
    simplified, blobs = openvino_model(core, READER)
    assert "IsNaN" in ops and blobs is None  # nothing kept without a cache
    assert "IsNaN" not in {op.get_type_name() for op in simplified.get_ops()}

    full = core.compile_model(str(READER), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    feed = _feed(3, 3 * PAD_TOKENS, [3 * PAD_TOKENS, 40, 21])
    expected = full(feed)
    got = f32_reader.run(feed)
    for index, logits in enumerate(got):
        for row, length in enumerate([3 * PAD_TOKENS, 40, 21]):
            real = expected[index][row, :length]
            assert logits[row, :length] == pytest.approx(real, abs=1e-4)


def test_the_simplified_graph_is_kept_and_read_again_from_the_cache(tmp_path: Path) -> None:
    """Two sessions over one reader simplify it once, and compile it into a blob folder
    beside the kept file (pruned together)."""
    source = tmp_path / "model.onnx"
    source.write_bytes(READER.read_bytes())
    cache = tmp_path / "cache"

    first = OpenVinoSession(source, "f32", cache_dir=cache)
    kept = kept_simplified(source, cache)
    assert kept is not None and kept.parent == cache
    assert blob_folder(kept).is_dir() and any(blob_folder(kept).iterdir())
    inode = kept.stat().st_ino
    blobs = {p.name: p.stat().st_mtime_ns for p in blob_folder(kept).iterdir()}
    second = OpenVinoSession(source, "f32", cache_dir=cache)
    assert kept_simplified(source, cache) == kept and kept.stat().st_ino == inode
    # Read, not compiled again: OpenVINO rewrites a blob whose model file's time moved.
    assert {p.name: p.stat().st_mtime_ns for p in blob_folder(kept).iterdir()} == blobs
    feed = _feed(2, 40, [40, 30])
    for got, expected in zip(second.run(feed), first.run(feed), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_copies_of_one_export_share_a_kept_file_and_a_new_export_gets_its_own(
    tmp_path: Path,
) -> None:
    """Named by the source's bytes: a second clone or install reuses the file, a changed
    export (here: another doc string) does not."""
    import onnx

    cache = tmp_path / "cache"
    one, two = tmp_path / "one" / "model.onnx", tmp_path / "two" / "model.onnx"
    for copy in (one, two):
        copy.parent.mkdir()
        copy.write_bytes(READER.read_bytes())
    kept = kept_simplified(one, cache)
    assert kept is not None and kept_simplified(two, cache) == kept

    changed = onnx.load(str(two))
    changed.doc_string = "another export"
    onnx.save(changed, str(two))
    assert kept_simplified(two, cache) not in (None, kept)


def test_a_cache_that_cannot_be_written_simplifies_in_memory(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")

    assert kept_simplified(READER, blocked / "kept") is None
    openvino = pytest.importorskip("openvino")
    model, blobs = openvino_model(openvino.Core(), READER, blocked / "kept")
    assert blobs is None
    assert "IsNaN" not in {op.get_type_name() for op in model.get_ops()}


def test_a_read_only_cache_is_known_before_the_graph_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the graph was loaded for a cache that cannot keep it")

    monkeypatch.setattr(onnx, "load", refuse)
    monkeypatch.setattr(os, "access", lambda *_args, **_kwargs: False)  # as on a read-only mount

    assert kept_simplified(READER, tmp_path / "cache") is None


def test_a_source_that_is_no_model_leaves_no_file_behind(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"not a model")
    cache = tmp_path / "cache"

    from google.protobuf.message import DecodeError  # what onnx raises for a corrupt file

    with pytest.raises(DecodeError):
        kept_simplified(source, cache)
    assert not cache.exists() or list(cache.iterdir()) == []
