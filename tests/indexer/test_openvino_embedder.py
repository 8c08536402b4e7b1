"""OpenVINO bf16 embeds as fp32 does, its indexes are fp32's, and auto picks per machine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from citeqa.config import Settings
from citeqa.hardware import BF16_FLAGS, cpu_flags
from indexer.embedding import Embedder
from indexer.errors import IndexMismatchError
from indexer.factory import make_processor, make_writer
from indexer.generations import current_generation
from indexer.index import load_index

SEEDS = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))
TEXTS = [
    "How many people has Mexico extradited?",
    "The ministry said the report was false. It gave no details.",
    " ".join(["word"] * 400),  # longer than the model's 256 tokens
    "a",
    *(path.read_text()[:1200] for path in SEEDS),
]


@pytest.fixture(scope="module")
def onnx_embedder(embedder: Embedder, model_cache: Path) -> Embedder:
    return Embedder(embedder.model_path, backend="onnx", cache_dir=model_cache)


@pytest.fixture(scope="module")
def bf16_embedder(embedder: Embedder, model_cache: Path) -> Embedder:
    return Embedder(embedder.model_path, backend="openvino-bf16", cache_dir=model_cache)


@pytest.fixture
def own_cache(model_cache: Path, onnx_embedder: Embedder, tmp_path: Path) -> Path:  # noqa: ARG001
    """A model cache with the exports already made (onnx_embedder made the fp32 one), and no
    decision of auto's yet."""
    folder = tmp_path / "model-cache"
    folder.mkdir()
    for export in model_cache.glob("*.onnx"):
        shutil.copyfile(export, folder / export.name)
    return folder


def _family(index_dir: Path) -> str:
    manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text())
    return str(manifest["embed_family"])


def test_bf16_vectors_equal_fp32_vectors(onnx_embedder: Embedder, bf16_embedder: Embedder) -> None:
    expected = onnx_embedder.encode_documents(TEXTS)
    got = bf16_embedder.encode_documents(TEXTS)

    assert got.dtype == np.float32 and got.shape == expected.shape
    assert (got * expected).sum(axis=1).min() >= 0.9999
    assert (bf16_embedder.encode_query(TEXTS[0]) * expected[:1]).sum() >= 0.9999
    assert bf16_embedder.backend == "openvino-bf16" and bf16_embedder.dimension == 384


def test_a_bf16_index_is_served_by_fp32_and_bf16_alike(
    tmp_path: Path, onnx_embedder: Embedder, bf16_embedder: Embedder
) -> None:
    settings = Settings(_env_file=None, embed_backend="openvino-bf16")  # type: ignore[call-arg]
    index_dir = tmp_path / "index"
    make_writer(settings, index_dir, make_processor(settings, bf16_embedder, workers=1)).build(
        SEEDS[:1]
    )
    assert _family(index_dir) == "fp32-compatible"
    # fp32 extends it, and both search it.
    make_writer(settings, index_dir, make_processor(settings, onnx_embedder, workers=1)).add(
        SEEDS[1:2]
    )

    for embedder in (onnx_embedder, bf16_embedder):
        index = load_index(index_dir, embedder)
        assert index.manifest.documents == 2
        index.close()


def test_int8_and_bf16_indexes_refuse_each_other(
    seed_index_dir: Path, tmp_path: Path, embedder: Embedder, bf16_embedder: Embedder
) -> None:
    assert embedder.backend == "onnx-int8"  # the seed index is built with the default
    assert _family(seed_index_dir) == "int8"
    with pytest.raises(
        IndexMismatchError, match=r"holds int8 vectors.*CITEQA_EMBED_BACKEND=onnx-int8"
    ):
        load_index(seed_index_dir, bf16_embedder)

    settings = Settings(_env_file=None, embed_backend="openvino-bf16")  # type: ignore[call-arg]
    index_dir = tmp_path / "index"
    make_writer(settings, index_dir, make_processor(settings, bf16_embedder, workers=1)).build(
        SEEDS[:1]
    )
    with pytest.raises(IndexMismatchError, match="to onnx, openvino-bf16 or torch"):
        load_index(index_dir, embedder)


def test_auto_without_bf16_units_is_int8(
    embedder: Embedder, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("citeqa.hardware.cpu_flags", lambda: frozenset({"avx512_vnni"}))

    auto = Embedder(embedder.model_path, backend="auto", cache_dir=own_cache)

    assert auto.backend == "onnx-int8" and auto.choice is not None
    assert "neither amx_bf16 nor avx512_bf16" in auto.choice.reason


def test_auto_with_bf16_units_and_a_win_is_bf16(
    embedder: Embedder, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("citeqa.hardware.cpu_flags", lambda: frozenset(BF16_FLAGS))
    timings: list[str] = []

    def faster_bf16(*_calls: object) -> tuple[float, float]:
        timings.append("timed")
        return 1.0, 0.5

    monkeypatch.setattr("indexer.embedding.time_interleaved", faster_bf16)

    auto = Embedder(embedder.model_path, backend="auto", cache_dir=own_cache)
    again = Embedder(embedder.model_path, backend="auto", cache_dir=own_cache)

    assert auto.backend == again.backend == "openvino-bf16" and timings == ["timed"]
    assert again.choice is not None and "cached in" in again.choice.reason


def test_auto_on_this_machine(embedder: Embedder, own_cache: Path) -> None:
    """The real rule on the CPU at hand: without bf16 units, int8 and nothing timed."""
    auto = Embedder(embedder.model_path, backend="auto", cache_dir=own_cache)

    assert auto.choice is not None
    if not any(flag in cpu_flags() for flag in BF16_FLAGS):
        assert auto.backend == "onnx-int8"
        assert not (own_cache / "backend-choice.json").exists()
    else:
        assert "timed at first start" in auto.choice.reason
        assert (own_cache / "backend-choice.json").is_file()
