"""A write that runs out of disk fails with a clear error (507 over HTTP), publishes
nothing, and the old generation is still loaded and served; once space is freed, the next
write succeeds. The index lives on a small tmpfs made for the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citeqa.config import Settings
from indexer.generations import SEGMENTS, current_generation
from indexer.index import load_index
from indexer.processing import DocumentProcessor
from tests.conftest import API_KEY, _app

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
    return ballast


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
