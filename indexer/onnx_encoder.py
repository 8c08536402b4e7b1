"""Sentence embeddings on ONNX Runtime: tokenise, run the export, mean-pool, normalise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from citeqa.onnx import Runtime, open_session

Vectors = npt.NDArray[np.float32]
# Tokens in one batch, padding included. Long texts encode faster one at a time and short
# ones faster together, so a budget of tokens, not of texts, sends long texts alone and
# short ones together; 256 gave the most texts per CPU second of the budgets tried
# (eval/RESULTS.md, "Embedding backends").
TOKEN_BUDGET = 256
# Dynamic int8 quantises the activations of a whole batch with one scale, so a text's
# vector would depend on its batch-mates and its padding: a question embedded alone and the
# same words embedded in a batch of 16 came out visibly apart (eval/RESULTS.md). One text
# per run keeps
# every vector a function of its text alone, as a query's is; int8 alone still encodes
# more texts per CPU second than fp32 at its best budget.
ALONE = 1


class OnnxEncoder:
    """Encodes texts with an ONNX export of a sentence-transformers model (mean pooling).

    Args:
        path: The ``.onnx`` file (see :mod:`indexer.onnx_export`).
        tokenizer_file: The model's ``tokenizer.json``.
        max_tokens: Truncation length, the model's ``max_seq_length``.
        threads: ONNX Runtime intra-op threads for each call; calls from several threads
            run side by side.
        token_budget: Most tokens in one batch, padding included; 1 encodes every text
            alone, which int8 needs (see :data:`ALONE`).
        runtime: ``onnxruntime``, or ``openvino-bf16`` for an fp32 export on a CPU with bf16
            units (see :mod:`citeqa.openvino`).
        side_by_side: Calls from different threads that may run at once (OpenVINO only).
        cache_dir: Where OpenVINO keeps compiled models (OpenVINO only).
    """

    def __init__(
        self,
        path: Path,
        tokenizer_file: Path,
        max_tokens: int,
        *,
        threads: int = 1,
        token_budget: int = TOKEN_BUDGET,
        runtime: Runtime = "onnxruntime",
        side_by_side: int = 1,
        cache_dir: Path | None = None,
    ) -> None:
        self.path = path
        self.token_budget = token_budget
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.session = open_session(path, runtime, threads, side_by_side, cache_dir)
        if self.session.output_width is None:
            raise ValueError(f"{path} has no fixed embedding width; is it an embedding model?")
        self.dimension = self.session.output_width

    def encode(self, texts: list[str], batch_size: int = 16) -> Vectors:
        """Normalised vectors, shape ``(len(texts), dimension)``, in input order.

        Batches are cut from the texts sorted by token count, so each pads to a similar
        length (padding is work the model does for nothing), and hold at most
        ``batch_size`` texts and the encoder's token budget, padding included.
        """
        token_budget = self.token_budget
        encodings = self.tokenizer.encode_batch(texts) if texts else []
        lengths = [len(encoding.ids) for encoding in encodings]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        begin = 0
        while begin < len(order):
            end = begin + 1
            # Sorted by length, so the last text of a batch sets its padded width.
            while (
                end < len(order)
                and end - begin < batch_size
                and (end - begin + 1) * lengths[order[end]] <= token_budget
            ):
                end += 1
            rows = order[begin:end]
            vectors[rows] = self._run([encodings[i].ids for i in rows])
            begin = end
        return vectors

    def _run(self, token_ids: list[list[int]]) -> Vectors:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        outputs = self.session.run(
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        hidden = outputs[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
