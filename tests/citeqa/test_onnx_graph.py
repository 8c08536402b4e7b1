"""The attention simplification removes work from the shipped reader's graph and changes no
output, padded rows included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from citeqa.config import packaged_reader_path
from citeqa.onnx import onnx_session
from citeqa.onnx_graph import simplify_attention
from service.reading.int8 import FP16_WEIGHTS_FILE, restore_fp32_weights


def test_simplified_reader_gives_the_same_logits(tmp_path: Path) -> None:
    full = tmp_path / "full.onnx"
    restore_fp32_weights(packaged_reader_path() / FP16_WEIGHTS_FILE, full)
    model = onnx.load(str(full))
    before = len(model.graph.node)
    removed = simplify_attention(model)
    onnx.checker.check_model(model)
    simple = tmp_path / "simple.onnx"
    onnx.save(model, str(simple))
    # One NaN guard (Where and IsNaN) per layer and five of six repeated masks, at least.
    assert removed >= 17 and len(model.graph.node) == before - removed
    assert not [node for node in model.graph.node if node.op_type == "IsNaN"]

    ids = np.random.default_rng(0).integers(1000, 20000, (3, 48), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 30:] = 0  # padding, as a batch of windows of different lengths has
    mask[2, 5:] = 0
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    expected = onnx_session(full).run(None, feed)
    got = onnx_session(simple).run(None, feed)
    for left, right in zip(expected, got, strict=True):
        np.testing.assert_array_equal(left, right)


def test_a_graph_without_the_patterns_is_left_alone() -> None:
    node = onnx.helper.make_node("Relu", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node],
        "plain",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])],
    )
    model = onnx.helper.make_model(graph)
    assert simplify_attention(model) == 0
    assert [n.op_type for n in model.graph.node] == ["Relu"]
