"""Reading an index's files ahead: every file queries read, once, never more than fits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.page_cache import (
    PageCacheWarmer,
    available_memory,
    segment_files,
    warm_page_cache,
)
from indexer.segment import VECTORS


def _segment(folder: Path) -> Path:
    (folder / "terms").mkdir(parents=True)
    (folder / "store.sqlite").write_bytes(b"s" * 3000)
    (folder / "sentence_vectors.f16").write_bytes(b"v" * (3 << 20))  # more than one block
    (folder / "terms" / "keys.npy").write_bytes(b"k" * 10)
    (folder / VECTORS).write_bytes(b"f" * 500)  # read whole at load: not read again
    return folder


def test_every_file_but_the_faiss_index_is_read(tmp_path: Path) -> None:
    folders = [_segment(tmp_path / "s1"), _segment(tmp_path / "s2")]
    files = segment_files(folders)
    assert VECTORS not in {f.name for f in files}
    assert len(files) == 6

    warmer = warm_page_cache(folders, available=1 << 40)
    assert warmer is not None and warmer.wait(30)
    assert warmer.state == "warm"
    assert warmer.bytes_read == 2 * (3000 + (3 << 20) + 10)


def test_files_are_read_where_they_cannot_be_sent_to_dev_null(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: object) -> int:
        del args
        raise OSError("sendfile to /dev/null is not supported here")

    monkeypatch.setattr(os, "sendfile", refused)
    folder = _segment(tmp_path / "s1")
    warmer = PageCacheWarmer(segment_files([folder])).start()
    assert warmer.wait(30)
    assert warmer.bytes_read == 3000 + (3 << 20) + 10


def test_an_index_over_half_the_available_memory_is_not_read(tmp_path: Path) -> None:
    folders = [_segment(tmp_path / "s1")]
    size = sum(f.stat().st_size for f in segment_files(folders))
    assert warm_page_cache(folders, available=2 * size - 2) is None
    assert warm_page_cache(folders, available=2 * size) is not None


def test_a_file_gone_before_its_turn_is_skipped(tmp_path: Path) -> None:
    folder = _segment(tmp_path / "s1")
    files = segment_files([folder])
    (folder / "store.sqlite").unlink()  # a merge removed it meanwhile
    warmer = PageCacheWarmer(files).start()
    assert warmer.wait(30) and warmer.state == "warm"
    assert warmer.bytes_read == (3 << 20) + 10


def test_available_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  24000000 kB\nMemAvailable:  1000 kB\n", encoding="ascii")
    assert available_memory(meminfo) == 1000 * 1024
    meminfo.write_text("MemTotal:  24000000 kB\n", encoding="ascii")
    assert available_memory(meminfo) is None
    assert available_memory(tmp_path / "absent") is None
