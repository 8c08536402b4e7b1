"""Sentence embeddings on ONNX Runtime: tokenise, run the export, mean-pool, normalise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from citeqa.onnx import onnx_session

Vectors = npt.NDArray[np.float32]


class OnnxEncoder:
    """Encodes texts with an ONNX export of a sentence-transformers model (mean pooling).

    Args:
        path: The ``.onnx`` file (see :mod:`indexer.onnx_export`).
        tokenizer_file: The model's ``tokenizer.json``.
        max_tokens: Truncation length, the model's ``max_seq_length``.
        threads: ONNX Runtime intra-op threads for each call; calls from several threads
            run side by side.
    """

    def __init__(self, path: Path, tokenizer_file: Path, max_tokens: int, threads: int = 1) -> None:
        self.path = path
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.session = onnx_session(path, threads)
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int = 16) -> Vectors:
        """Normalised vectors, shape ``(len(texts), dimension)``, in input order.

        Batches are cut from the texts sorted by token count, so each pads to a similar
        length: padding is work the model does for nothing.
        """
        encodings = self.tokenizer.encode_batch(texts) if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            vectors[rows] = self._run([encodings[i].ids for i in rows])
        return vectors

    def _run(self, token_ids: list[list[int]]) -> Vectors:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        outputs: list[Any] = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        hidden = outputs[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
