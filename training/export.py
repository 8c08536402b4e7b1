"""Export a trained Hugging Face span reader to ONNX for CPU reading: one file.

    citeqa reader export --model runs/reader --out service/reading/model

Needs onnx (a dependency of citeqa; the quantiser needs it too). The export is
``model-fp16.onnx``: the fp32 graph with its weights stored as fp16 and cast to fp32 when
the model is loaded. The reference checkpoint's weights are fp16, so the file is the
checkpoint exactly, at half the size of an fp32 export. OpenVINO runs it in bf16 on CPUs with
bf16 units (``CITEQA_READER_BACKEND``); the int8 reader that ONNX Runtime runs by default is
derived from it at first use by the service (:mod:`service.reading.int8`, which undoes
:func:`store_weights_as_fp16` and quantises with :func:`citeqa.onnx.quantize_int8`): one
reader, one file, in git.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from service.reading.errors import ReaderError
from service.reading.int8 import FP16_WEIGHTS_FILE, ONNX_FILE

# Files that travel with the weights: the tokenizer the windows are cut with, and the card.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
OPSET = 17
# Initialisers smaller than this stay fp32: the saving is nothing, and a Cast per bias and
# layer-norm vector would only lengthen the graph.
SMALLEST_CAST = 1024


def export_onnx(model_dir: Path, out_dir: Path, fp16_weights: bool = True) -> Path:
    """Write ``out_dir/model-fp16.onnx`` (or an fp32 ``model.onnx``) and the tokenizer.

    Args:
        model_dir: A folder saved by ``save_pretrained`` holding a ``*ForQuestionAnswering``.
        out_dir: Destination folder; the tokenizer files are copied beside the model.
        fp16_weights: Store the weights as fp16 (``model-fp16.onnx``, the shipped format);
            False writes the fp32 graph as ``model.onnx``, twice the size, for a checkpoint
            whose weights fp16 would round.

    Returns:
        The path of the written ONNX file.

    Raises:
        ReaderError: If the checkpoint cannot be loaded or ``onnx`` is not installed.
    """
    import torch
    from transformers import AutoModelForQuestionAnswering

    try:
        model = AutoModelForQuestionAnswering.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ReaderError(f"{model_dir} holds no extractive-QA checkpoint ({error})") from error
    model = model.float().eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = {
        "input_ids": torch.ones((2, 16), dtype=torch.long),
        "attention_mask": torch.ones((2, 16), dtype=torch.long),
        "token_type_ids": torch.zeros((2, 16), dtype=torch.long),
    }
    axes = {0: "batch", 1: "tokens"}
    target = out_dir / (FP16_WEIGHTS_FILE if fp16_weights else ONNX_FILE)
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / ONNX_FILE
        # The TorchScript exporter (dynamo=False) needs no onnxscript and gives a plain graph
        # that ONNX Runtime fuses into its attention kernels.
        torch.onnx.export(
            model,
            (sample,),
            str(fp32),
            input_names=list(sample),
            output_names=["start_logits", "end_logits"],
            dynamic_axes={name: axes for name in [*sample, "start_logits", "end_logits"]},
            opset_version=OPSET,
            dynamo=False,
        )
        if fp16_weights:
            store_weights_as_fp16(fp32, target)
        else:
            shutil.copyfile(fp32, target)
    # One reader per folder: a model file of the other format left by an earlier export
    # would be read instead of (model.onnx) or beside (model-fp16.onnx) the new one.
    (out_dir / (ONNX_FILE if fp16_weights else FP16_WEIGHTS_FILE)).unlink(missing_ok=True)
    for name in TOKENIZER_FILES:
        if (model_dir / name).exists():
            shutil.copyfile(model_dir / name, out_dir / name)
    return target


def store_weights_as_fp16(source: Path, target: Path) -> None:
    """Write ``source``'s graph with its large fp32 weights stored as fp16 and cast back.

    The graph still computes in fp32 (ONNX Runtime folds the casts at load; OpenVINO keeps
    the weights compressed and decompresses them in its kernels). Lossless for weights that
    fp16 holds exactly, as a checkpoint trained and saved in fp16 does.

    Raises:
        ReaderError: If ``onnx`` is not installed.
    """
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as error:  # onnx is only in the export extra
        raise ReaderError(
            "the fp16 export needs the onnx package: pip install -e '.[export]'"
        ) from error
    import numpy as np

    model = onnx.load(str(source))
    casts = []
    for initializer in model.graph.initializer:
        if initializer.data_type != onnx.TensorProto.FLOAT:
            continue
        weights = numpy_helper.to_array(initializer)
        if weights.size < SMALLEST_CAST:
            continue
        name = initializer.name
        initializer.CopyFrom(numpy_helper.from_array(weights.astype(np.float16), f"{name}.fp16"))
        casts.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=onnx.TensorProto.FLOAT))
    nodes = [*casts, *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
