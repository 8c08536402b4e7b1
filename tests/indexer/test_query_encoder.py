"""The ONNX query encoder gives torch's vectors, is exported once, and refuses a mismatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer import onnx_export
from indexer.embedding import Embedder
from indexer.errors import QueryEncoderError
from indexer.query_encoder import OnnxQueryEncoder

QUESTIONS = [
    "How many people has Mexico extradited?",
    "Who is Mexico's security minister, and what did he say about the flights?",
    " ".join(["word"] * 400),  # longer than the model's 256 tokens: truncated alike
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def torch_embedder(embedder: Embedder) -> Embedder:
    """The query encoder serves the torch backend (the ONNX ones embed questions themselves)."""
    return embedder if embedder.backend == "torch" else Embedder(embedder.model_path)


@pytest.fixture(scope="module")
def encoder(embedder: Embedder, cache_dir: Path) -> OnnxQueryEncoder:
    return OnnxQueryEncoder(embedder.model, Path(embedder.model_path), cache_dir)


def test_vectors_equal_the_torch_models(encoder: OnnxQueryEncoder, embedder: Embedder) -> None:
    expected = embedder.model.encode(QUESTIONS, normalize_embeddings=True)
    got = np.concatenate([encoder.encode(question) for question in QUESTIONS])

    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_the_export_is_made_once_and_reused(
    encoder: OnnxQueryEncoder, embedder: Embedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = encoder.path.stat().st_ino  # a new export would be a new file (renamed in)

    def no_export(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export", no_export)
    again = OnnxQueryEncoder(embedder.model, Path(embedder.model_path), cache_dir)

    assert again.path == encoder.path and again.path.stat().st_ino == exported
    assert [p.name for p in cache_dir.iterdir()] == [encoder.path.name]  # no temp files left


def test_a_mismatching_export_is_refused_and_torch_kept(
    embedder: Embedder, torch_embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # nothing can match

    with pytest.raises(QueryEncoderError, match="CITEQA_QUERY_ENCODER=torch"):
        OnnxQueryEncoder(embedder.model, Path(embedder.model_path), tmp_path)
    assert torch_embedder.use_onnx_queries(tmp_path) is False


def test_an_unwritable_cache_keeps_torch(torch_embedder: Embedder, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")

    assert torch_embedder.use_onnx_queries(blocker / "model-cache") is False


def test_a_damaged_export_is_made_again(
    embedder: Embedder, encoder: OnnxQueryEncoder, tmp_path: Path
) -> None:
    damaged = tmp_path / encoder.path.name
    damaged.write_bytes(b"not an onnx model")

    healed = OnnxQueryEncoder(embedder.model, Path(embedder.model_path), tmp_path)

    assert healed.path == damaged and damaged.stat().st_size > 1_000_000
    np.testing.assert_allclose(healed.encode(QUESTIONS[0]), encoder.encode(QUESTIONS[0]), atol=1e-6)
