"""The Ray build's stages as plain functions, and its errors, without starting Ray.

The build itself, on a real two-node cluster, is tested in tests/ray/test_build.py.
"""

from __future__ import annotations

import pickle
import socket
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citeqa.cli import app
from citeqa.config import Settings
from indexer.errors import RayBuildError
from indexer.generations import SEGMENTS
from indexer.ray_build import RayBuildOptions, check_supported
from indexer.ray_stages import NO_SHARD, read_files, write_shard
from indexer.shards import shard_of
from tests.indexer.fakes import DIMENSION, processed

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _build(*options: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["index", "build", "--source", str(SEEDS), *options])
    return result.exit_code, result.output


def test_read_files_names_what_it_skips_and_routes_documents_to_shards(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Ferry strike in Veracruz.")
    (tmp_path / "b.pdf").write_bytes(b"%PDF")
    paths = [tmp_path / "a.txt", tmp_path / "b.pdf", tmp_path / "gone.txt"]
    batch = read_files({"order": np.arange(3), "path": np.array([str(p) for p in paths])}, 3)
    assert list(batch["doc_id"]) == ["a", "", ""]
    assert list(batch["shard"]) == [shard_of("a", 3), NO_SHARD, NO_SHARD]
    assert pickle.loads(batch["payload"][0]).text == "Ferry strike in Veracruz."
    assert "unsupported file type .pdf" in batch["reason"][1]
    assert "no such file or folder" in batch["reason"][2]


def test_write_shard_keeps_the_first_reading_of_an_id_in_reading_order(tmp_path: Path) -> None:
    (tmp_path / SEGMENTS).mkdir()
    ids = [d for d in (f"doc-{i}" for i in range(20)) if shard_of(d, 3) == 1][:3]
    first = processed(ids[0], "Port. Storm.")
    first = replace(first, document=replace(first.document, path="one.txt"))
    rows = [  # (order, document): out of order, as a shuffle delivers them
        (5, processed(ids[0], "A second reading.")),
        (2, processed(ids[1], "Cargo vote. Court.")),
        (0, first),
        (3, processed(ids[2], "Tariff.")),
    ]
    group = {
        "order": np.array([order for order, _ in rows]),
        "sub": np.zeros(len(rows), dtype=np.int64),
        "shard": np.ones(len(rows), dtype=np.int64),
        "doc_id": np.array([item.document.doc_id for _, item in rows]),
        "path": np.array(["one.txt", "two.txt", "one.txt", "three.txt"]),
        "reason": np.array([""] * len(rows)),
        "payload": np.array([pickle.dumps(item) for _, item in rows], dtype=object),
    }
    out = write_shard(group, str(tmp_path), 3, DIMENSION, "auto", segment_chunks=100)
    folders = [f for f in out["folder"] if f]
    assert len(folders) == 1
    name, documents, chunks = folders[0].split("|")
    assert (int(documents), int(chunks)) == (3, 3)
    assert (tmp_path / SEGMENTS / name).is_dir()
    [reason] = [r for r in out["reason"] if r]
    assert f"duplicate document id {ids[0]!r} (already read from one.txt)" in reason


def test_ray_only_options_are_refused_with_the_local_engine() -> None:
    code, output = _build("--address", "127.0.0.1:6379", "--gpus", "1")
    assert code == 2
    assert "--address, --gpus only apply with --engine ray" in output
    code, output = _build("--engine", "spark")
    assert (code, "--engine must be local or ray" in output) == (2, True)


def test_options_a_ray_build_does_not_support_are_named() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(RayBuildError, match="CITEQA_EMBED_BACKEND=torch"):
        check_supported(settings, RayBuildOptions(1, gpus_per_actor=1))
    with pytest.raises(ValueError, match="shards"):
        RayBuildOptions(0)


def test_a_missing_ray_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    code, output = _build("--engine", "ray")
    assert code == 1
    assert "pip install 'citeqa[ray]'" in output


def test_an_unreachable_address_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CITEQA_RAY_AUTH_TOKEN", "s3cret")
    code, output = _build(
        "--engine", "ray", "--address", f"127.0.0.1:{port}", "--index-dir", str(tmp_path)
    )
    assert code == 1
    assert f"cannot reach the Ray cluster at '127.0.0.1:{port}'" in output


def test_a_failed_build_removes_its_staged_segments_only(tmp_path: Path) -> None:
    from indexer.ray_build import _remove_staged
    from indexer.shards import write_segment

    staged = write_segment(
        tmp_path, [processed("doc-0", "Port.")], shard=0, shards=1, dimension=DIMENSION
    )
    (tmp_path / SEGMENTS / "s000001").mkdir()  # a published segment
    _remove_staged(tmp_path)
    assert not (tmp_path / SEGMENTS / staged.folder).exists()
    assert (tmp_path / SEGMENTS / "s000001").is_dir()
