"""Exact simplifications of an exported BERT graph before it is quantised or compiled.

``torch.onnx.export`` writes the attention of transformers' BERT with two pieces of
defensive work that cost about a tenth of an int8 window on ONNX Runtime and a twelfth of a
bf16 read on OpenVINO (eval/RESULTS.md, "The exported graph", "bf16 on AMX"):

- after each Softmax, ``Where(IsNaN(p), 0, p)``, which only matters for a row whose keys are
  all masked; citeqa's inputs always keep ``[CLS]`` unmasked, so no row ever is;
- each layer rebuilds the same additive mask, ``Where(mask, 0, -inf)``, from the same input.

Both are removed here without changing a single output (the tests compare the logits).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from citeqa.model_cache import BLOBS_SUFFIX, file_hash, publish

# In the names of kept simplified files: changes whenever simplify_attention would write
# another graph, so a file kept by an older version is not read.
SIMPLIFY_RECIPE = "s1"


def _constant(node_by_output: dict[str, Any], name: str) -> bytes | str:
    """The value of a Constant node's output, as bytes, or the name of anything else."""
    from onnx import numpy_helper

    node = node_by_output.get(name)
    if node is None or node.op_type != "Constant" or not node.attribute:
        return name
    tensor = node.attribute[0].t
    return bytes(numpy_helper.to_array(tensor).tobytes()) + str(tensor.data_type).encode()


def _is_zero(node_by_output: dict[str, Any], name: str) -> bool:
    from onnx import numpy_helper

    node = node_by_output.get(name)
    if node is None or node.op_type != "Constant" or not node.attribute:
        return False
    return not numpy_helper.to_array(node.attribute[0].t).any()


def simplify_attention(model: Any) -> int:
    """Remove NaN guards after Softmax and repeated attention masks from ``model`` in place.

    Returns how many nodes were removed (0 for a graph without those patterns).
    """
    graph = model.graph
    node_by_output = {output: node for node in graph.node for output in node.output}
    # A removed node's output -> the name that now stands for it.
    renamed = _nan_guards(graph.node, node_by_output) | _repeated_masks(graph.node, node_by_output)
    if not renamed:
        return 0
    kept = [node for node in graph.node if node.output[0] not in renamed]
    for node in kept:
        for position, name in enumerate(node.input):
            while name in renamed:
                name = renamed[name]
            node.input[position] = name
    kept = _without_unused(kept, {output.name for output in graph.output})
    count = len(graph.node) - len(kept)
    del graph.node[:]
    graph.node.extend(kept)
    return count


def _nan_guards(nodes: Iterable[Any], node_by_output: dict[str, Any]) -> dict[str, str]:
    """``Where(IsNaN(p), 0, p)`` -> ``p``."""
    renamed = {}
    for node in nodes:
        if node.op_type != "Where":
            continue
        test = node_by_output.get(node.input[0])
        if (
            test is not None
            and test.op_type == "IsNaN"
            and test.input[0] == node.input[2]
            and _is_zero(node_by_output, node.input[1])
        ):
            renamed[node.output[0]] = node.input[2]
    return renamed


def _repeated_masks(nodes: Iterable[Any], node_by_output: dict[str, Any]) -> dict[str, str]:
    """A Where with the same condition and constant values as an earlier one -> the earlier."""
    renamed = {}
    first: dict[tuple[str, bytes | str, bytes | str], str] = {}
    for node in nodes:
        if node.op_type != "Where" or node_by_output.get(node.input[0], node).op_type == "IsNaN":
            continue
        key = (
            node.input[0],
            _constant(node_by_output, node.input[1]),
            _constant(node_by_output, node.input[2]),
        )
        if key in first:
            renamed[node.output[0]] = first[key]
        else:
            first[key] = node.output[0]
    return renamed


def _without_unused(nodes: Iterable[Any], outputs: set[str]) -> list[Any]:
    """``nodes`` less those (IsNaN tests, Constants) whose outputs nothing reads any more."""
    kept = list(nodes)
    while True:
        read = outputs | {name for node in kept for name in node.input}
        used = [node for node in kept if any(output in read for output in node.output)]
        if len(used) == len(kept):
            return kept
        kept = used


def kept_simplified(source: Path, folder: Path) -> Path | None:
    """``source`` simplified, saved once in ``folder`` and read from there after.

    Loading and simplifying the reader takes about a quarter of a second and OpenVINO compiles
    it twice (citeqa.onnx.BusyAwareSession); from a file path, OpenVINO also finds its compiled
    blob without reading the graph. The name holds a hash of the source's bytes, so a new
    export gets a new file and two installs of one reader share one. None where ``folder``
    cannot be written.
    """
    kept = folder / f"{source.stem}-{file_hash(source)}-{SIMPLIFY_RECIPE}-simplified.onnx"
    # Never touched once written: OpenVINO compiles again when a model file's time changes.
    # Its use is marked on its blob folder (citeqa.model_cache.last_use).
    if kept.is_file():
        return kept
    try:  # a read-only cache is known before the graph is loaded for nothing
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    import onnx  # only to write the file: importing it is a fifth of a server's start

    model = onnx.load(str(source))
    simplify_attention(model)
    try:
        publish(kept, lambda scratch: onnx.save(model, scratch))
    except OSError:
        return None
    return kept


def blob_folder(kept: Path) -> Path:
    """Where OpenVINO keeps the compiled blobs of a kept graph: beside it, so that pruning the
    model cache removes both together (:mod:`citeqa.model_cache`)."""
    return kept.with_name(f"{kept.stem}{BLOBS_SUFFIX}")


def openvino_model(core: Any, path: Path, cache_dir: Path | None = None) -> tuple[Any, Path | None]:
    """``path`` simplified, as OpenVINO's ``core`` compiles it, and the folder for its
    compiled blobs. OpenVINO does not drop the NaN guards itself, and they cost about a
    twelfth of a bf16 read. With a cache folder the simplified file is kept there, and later
    sessions compile from it; without one, or where it cannot be written, nothing is kept."""
    kept = kept_simplified(path, cache_dir) if cache_dir is not None else None
    if kept is not None:
        return str(kept), blob_folder(kept)
    import onnx

    model = onnx.load(str(path))
    if not simplify_attention(model):
        return str(path), None
    return core.read_model(model.SerializeToString()), None
