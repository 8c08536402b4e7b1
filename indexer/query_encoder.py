"""Query embeddings on ONNX Runtime beside a torch index: torch's own vectors, in less time.

The query path embeds one short question per request. On torch that is fast only on the
thread that first ran torch and slower on any other (libgomp throttles its spin-waiting
once a second OpenMP team exists on two cores), and the server answers on its request
threads. The same encoder exported to ONNX runs faster on one thread, on any thread
(eval/RESULTS.md, "figures that lived in code comments").

This is for ``CITEQA_EMBED_BACKEND=torch``: the ONNX backends embed questions with their own
session. The fp32 export (:mod:`indexer.onnx_export`, shared with the ``onnx`` backend) is
checked against the loaded torch model on every start, and a mismatch is refused, so an
index built with torch is always searched with the same vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from citeqa.onnx import OnnxEncoder
from indexer import onnx_export
from indexer.errors import ExportError, QueryEncoderError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]


class OnnxQueryEncoder:
    """Encodes queries with an ONNX export of ``model`` (a loaded SentenceTransformer).

    Args:
        model: The torch model the index was built with; exported on first use.
        model_path: Its folder (for ``tokenizer.json`` and the weights' hash).
        cache_dir: Where exports are kept, e.g. beside the index.
        threads: ONNX Runtime intra-op threads.

    Raises:
        QueryEncoderError: If the export's vectors differ from torch's.
    """

    def __init__(
        self, model: SentenceTransformer, model_path: Path, cache_dir: Path, threads: int = 1
    ) -> None:
        self.max_tokens = int(model.max_seq_length or 256)
        self._threads = threads
        self._model_path = model_path
        try:
            self.path, self._encoder = onnx_export.open_export(
                lambda: self._ensure(model, cache_dir), self._open, "query encoder"
            )
        except ExportError as error:
            raise QueryEncoderError(str(error)) from error
        self._check_against(model)

    def _ensure(self, model: SentenceTransformer, cache_dir: Path) -> Path:
        def encode(path: Path, texts: list[str]) -> Vectors:
            return OnnxEncoder(path, self._model_path / "tokenizer.json", self.max_tokens).encode(
                texts
            )

        return onnx_export.ensure_export(self._model_path, cache_dir, "fp32", lambda: model, encode)

    def _open(self, path: Path) -> OnnxEncoder:
        return OnnxEncoder(
            path, self._model_path / "tokenizer.json", self.max_tokens, threads=self._threads
        )

    def encode(self, text: str) -> Vectors:
        """One normalised vector, shape ``(1, dimension)``."""
        return self._encoder.encode([text])

    def _check_against(self, model: SentenceTransformer) -> None:
        probes = list(onnx_export.PROBES)
        expected = model.encode(
            probes, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        got = np.concatenate([self.encode(text) for text in probes])
        difference = float(np.abs(expected - got).max())
        if difference > onnx_export.TOLERANCE:
            raise QueryEncoderError(
                f"the ONNX export at {self.path} gives vectors {difference:.1e} away from the "
                "torch model's (pooling other than mean?); set CITEQA_QUERY_ENCODER=torch"
            )
