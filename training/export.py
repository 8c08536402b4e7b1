"""Export a trained Hugging Face span reader to ONNX, optionally int8, for fast CPU reading.

    citeqa reader export --model runs/reader --out service/reading/model

Needs the `export` extra (``pip install -e '.[export]'``: onnx); the service itself only needs
onnxruntime. Quantisation is dynamic int8 per channel (:func:`citeqa.onnx.quantize_int8`, the
embedding model's quantiser too): per tensor cost the reader far more F1 (eval/RESULTS.md).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from citeqa.onnx import quantize_int8
from service.reading.errors import ReaderError

# Files that travel with the weights: the tokenizer the windows are cut with, and the card.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
ONNX_FILE = "model.onnx"
OPSET = 17


def export_onnx(model_dir: Path, out_dir: Path, quantize: bool = True) -> Path:
    """Write ``out_dir/model.onnx`` (int8 per-channel unless ``quantize`` is False).

    Args:
        model_dir: A folder saved by ``save_pretrained`` holding a ``*ForQuestionAnswering``.
        out_dir: Destination folder; the tokenizer files are copied beside the model.
        quantize: Dynamic int8 weights, per output channel.

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
        target = out_dir / ONNX_FILE
        if quantize:
            _quantize(fp32, target)
        else:
            shutil.copyfile(fp32, target)
    for name in TOKENIZER_FILES:
        if (model_dir / name).exists():
            shutil.copyfile(model_dir / name, out_dir / name)
    return out_dir / ONNX_FILE


def _quantize(source: Path, target: Path) -> None:
    try:
        quantize_int8(source, target)
    except ImportError as error:  # onnx is only in the export extra
        raise ReaderError(
            "int8 export needs the onnx package: pip install -e '.[export]'"
        ) from error
