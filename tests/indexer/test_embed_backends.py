"""The ONNX backends embed as torch does, and indexes refuse a backend whose vectors differ."""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from citeqa.config import Settings
from indexer.embedding import Embedder
from indexer.errors import IndexMismatchError
from indexer.factory import make_processor, make_writer
from indexer.generations import current_generation
from indexer.index import load_index

TEXTS = [
    "How many people has Mexico extradited?",
    "The ministry said the report was false. It gave no details.",
    " ".join(["word"] * 400),  # longer than the model's 256 tokens: truncated alike
    "a",
]
SEEDS = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def torch_embedder(embedder: Embedder) -> Embedder:
    if embedder.backend == "torch":
        return embedder
    return Embedder(embedder.model_path)


@pytest.fixture(scope="module")
def onnx_embedder(embedder: Embedder, cache_dir: Path) -> Embedder:
    return Embedder(embedder.model_path, backend="onnx", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def int8_embedder(embedder: Embedder, cache_dir: Path) -> Embedder:
    return Embedder(embedder.model_path, backend="onnx-int8", cache_dir=cache_dir)


def test_onnx_vectors_equal_torchs(torch_embedder: Embedder, onnx_embedder: Embedder) -> None:
    expected = torch_embedder.encode_documents(TEXTS)
    got = onnx_embedder.encode_documents(TEXTS, batch_size=3)  # batches of mixed lengths

    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(onnx_embedder.encode_query(TEXTS[0]), expected[:1], atol=1e-5)
    assert onnx_embedder.dimension == torch_embedder.dimension
    assert [onnx_embedder.count_tokens(t) for t in TEXTS] == [
        torch_embedder.count_tokens(t) for t in TEXTS
    ]


def test_int8_vectors_stay_close_to_torchs(
    torch_embedder: Embedder, int8_embedder: Embedder
) -> None:
    cosines = (torch_embedder.encode_documents(TEXTS) * int8_embedder.encode_documents(TEXTS)).sum(
        1
    )

    assert cosines.min() > 0.95  # per-channel int8: 0.976 and more on NYT texts
    assert cosines.max() < 0.99999  # and it really is another model


def test_each_export_is_made_once(
    onnx_embedder: Embedder, int8_embedder: Embedder, cache_dir: Path
) -> None:
    names = sorted(p.name for p in cache_dir.iterdir())

    assert len(names) == 2 and names[0].endswith("-int8.onnx")  # no scratch files left
    assert onnx_embedder.export_hash and int8_embedder.export_hash
    assert onnx_embedder.export_hash != int8_embedder.export_hash


def test_a_fresh_export_says_so_first_and_raises_no_torch_warnings(
    embedder: Embedder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A new user's first run: torch's tracer warnings read as errors, a silent pause reads
    # as a hang, and a progress bar of one batch in a server's log is noise.
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        Embedder(embedder.model_path, backend="onnx", cache_dir=tmp_path)
    assert "Batches" not in capsys.readouterr().err
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("exporting the embedding model once to") for m in messages)
    # DeprecationWarnings are hidden outside __main__ by Python's default filters.
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    torch_warnings = [w for w in shown if "torch" in w.filename or "transformers" in w.filename]
    assert torch_warnings == [], [str(w.message)[:80] for w in torch_warnings]


def test_manifest_records_the_backend_and_other_families_are_refused(
    seed_index_dir: Path, tmp_path: Path, onnx_embedder: Embedder, int8_embedder: Embedder
) -> None:
    settings = Settings(_env_file=None, embed_backend="onnx-int8")  # type: ignore[call-arg]
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    processor = make_processor(settings, int8_embedder, workers=1)
    # A fresh build may change backend: it replaces every vector.
    make_writer(settings, index_dir, processor).build(SEEDS[:1])
    manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text())

    assert manifest["embed_backend"] == "onnx-int8"
    assert manifest["embed_export"] == int8_embedder.export_hash
    assert manifest["embed_weights"] == int8_embedder.weights_hash
    with pytest.raises(IndexMismatchError, match="CITEQA_EMBED_BACKEND=onnx-int8"):
        load_index(index_dir, onnx_embedder)
    load_index(index_dir, int8_embedder).close()


def test_torch_and_onnx_indexes_are_interchangeable(
    tmp_path: Path, torch_embedder: Embedder, onnx_embedder: Embedder
) -> None:
    settings = Settings(_env_file=None, embed_backend="onnx")  # type: ignore[call-arg]
    index_dir = tmp_path / "index"
    onnx_processor = make_processor(settings, onnx_embedder, workers=1)
    make_writer(settings, index_dir, onnx_processor).build(SEEDS[:1])
    torch_processor = make_processor(settings, torch_embedder, workers=1)
    report = make_writer(settings, index_dir, torch_processor).add(SEEDS[1:2])  # extended

    index = load_index(index_dir, torch_embedder)
    assert report.documents == 2 and index.manifest.embed_backend == "torch"
    index.close()
    load_index(index_dir, onnx_embedder).close()


def test_an_index_of_older_weights_is_refused(writable_index_dir: Path, embedder: Embedder) -> None:
    manifest_path = current_generation(writable_index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["embed_weights"] = "0123456789abcdef"
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(IndexMismatchError, match="other weights"):
        load_index(writable_index_dir, embedder)


def test_an_index_from_before_backends_counts_as_torch(
    writable_index_dir: Path, torch_embedder: Embedder, int8_embedder: Embedder
) -> None:
    manifest_path = current_generation(writable_index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for key in ("embed_backend", "embed_family", "embed_weights", "embed_export"):
        manifest.pop(key)
    manifest_path.write_text(json.dumps(manifest))

    load_index(writable_index_dir, torch_embedder).close()
    with pytest.raises(IndexMismatchError, match="built with the torch embedding backend"):
        load_index(writable_index_dir, int8_embedder)
