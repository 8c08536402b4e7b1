"""A write that runs out of disk fails with a clear error (507 over HTTP), publishes
nothing, and the old generation is still loaded and served; once space is freed, the next
write succeeds. The index lives on a small tmpfs made for the test."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from citeqa.config import Settings
from indexer.generations import SEGMENTS, current_generation
from indexer.index import load_index
from indexer.processing import DocumentProcessor
from tests.conftest import API_KEY, _app
from tests.reliability.conftest import cli_add, running_server

pytestmark = pytest.mark.slow
DISK_BYTES = 4 << 20
# Long enough that its chunks, sentences and vectors need far more than the space left.
BIG = {"doc_id": "big-report", "text": "Port officials reopened the north pier. " * 400}
QUESTION = {"question": "How many people has Mexico extradited?"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        # Lazy, so a handle leaked by a failing assertion cannot leave the mount behind.
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """A ballast file that leaves about ``leave_bytes`` free on ``disk``."""
    stats = os.statvfs(disk)
    ballast = disk / "ballast"
    with open(ballast, "wb") as handle:
        handle.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave_bytes))
    if leave_bytes == 0:
        # Whatever the filesystem kept back, to the last block (closing flushes too).
        with contextlib.suppress(OSError), open(ballast, "ab", buffering=0) as handle:
            while True:
                handle.write(b"\0" * 4096)
    return ballast


@pytest.fixture
def full_disk_index(small_disk: Path, seed_index_dir: Path) -> Iterator[Path]:
    """A copy of the seed index on a disk with not one byte free."""
    index_dir = small_disk / "index"
    shutil.copytree(seed_index_dir, index_dir)
    _fill(small_disk, 0)
    assert os.statvfs(small_disk).f_bavail == 0
    yield index_dir


@pytest.mark.parametrize("runs_out", ["at-once", "half-way"])
def test_disk_full_write_fails_clearly_and_the_old_index_is_served(
    runs_out: str,
    small_disk: Path,
    seed_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
) -> None:
    index_dir = small_disk / "index"
    shutil.copytree(seed_index_dir, index_dir)
    live = current_generation(index_dir)
    segments = index_dir / SEGMENTS
    before_segments = sorted(p.name for p in segments.iterdir())
    segment_bytes = sum(f.stat().st_size for f in segments.rglob("*") if f.is_file())
    # Too little room to start the new segment, or room for part of it but not all.
    ballast = _fill(small_disk, 16_384 if runs_out == "at-once" else segment_bytes // 4)
    headers = {"Authorization": f"Bearer {API_KEY}"}

    with TestClient(_app(index_dir, settings, processor)) as client:
        before = client.post("/v1/query", json=QUESTION).json()
        refused = client.post("/v1/documents", json=BIG, headers=headers)
        assert refused.status_code == 507, refused.text
        assert "no space left" in refused.json()["detail"]
        assert f"still serves {live.name}" in refused.json()["detail"]

        assert current_generation(index_dir) == live
        assert sorted(p.name for p in live.parent.iterdir()) == [live.name]  # no leftovers
        assert sorted(p.name for p in segments.iterdir()) == before_segments
        assert client.get("/readyz").json()["generation"] == int(live.name[1:])
        answer = client.post("/v1/query", json=QUESTION)
        assert answer.status_code == 200
        assert answer.json()["answer"] == before["answer"]
        assert client.get("/v1/documents/big-report").status_code == 404

        ballast.unlink()
        added = client.post("/v1/documents", json=BIG, headers=headers)
        assert added.status_code == 200, added.text
        assert client.get("/v1/documents/big-report").status_code == 200

    index = load_index(index_dir, processor.embedder)
    assert "big-report" in index.documents
    index.close()


def test_full_disk_api_write_is_507_even_when_the_lock_cannot_record_its_holder(
    full_disk_index: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    """With 0 bytes free the writer lock's PID write fails first: still 507, never 500,
    and the app starts (its garbage collection at start is not fatal)."""
    live = current_generation(full_disk_index)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with TestClient(_app(full_disk_index, settings, processor)) as client:
        for refused in (
            client.post("/v1/documents", json=BIG, headers=headers),
            client.delete("/v1/documents/002_b8ec4b7f77a3a021", headers=headers),
        ):
            assert refused.status_code == 507, refused.text
            assert refused.json()["detail"].startswith("no space left on the disk of")
            assert f"still serves {live.name}" in refused.json()["detail"]
        assert client.post("/v1/query", json=QUESTION).status_code == 200
    assert current_generation(full_disk_index) == live


def test_full_disk_cli_prints_the_documented_message(full_disk_index: Path, tmp_path: Path) -> None:
    article = tmp_path / "pier.txt"
    article.write_text(BIG["text"])
    added = cli_add(article, full_disk_index)
    assert added.returncode == 1, added.stderr[-2000:]
    # The one error line (a progress bar may share its line: it ends in a carriage return).
    assert added.stderr.count("error:") == 1, added.stderr[-2000:]
    assert "error: no space left on the disk of" in added.stderr, added.stderr[-2000:]
    assert "Traceback" not in added.stderr


def test_server_starts_and_serves_reads_on_a_full_disk(
    full_disk_index: Path, tmp_path: Path
) -> None:
    with running_server(full_disk_index, tmp_path / "server.log") as url:
        answer = httpx.post(f"{url}/v1/query", json=QUESTION, timeout=30)
        assert answer.status_code == 200, answer.text
        assert httpx.get(f"{url}/v1/documents", timeout=30).status_code == 200
