"""kill -9 at every step of a write (``kill_at_step.py``), then reopen: the index loads, its
parts agree, every acknowledged document is there, and the next write succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from citeqa.config import Settings
from citeqa.types import Document
from indexer.factory import make_writer
from indexer.generations import WRITE_STEPS, current_generation
from indexer.index import load_index
from indexer.manifest import Manifest
from indexer.processing import DocumentProcessor
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _cli_add(index_dir: Path, path: Path, step: str) -> subprocess.CompletedProcess[str]:
    entry = ("-m", "tests.reliability.kill_at_step", step)
    command = [sys.executable, *entry, "index", "add", str(path), "--index-dir", str(index_dir)]
    env = {**os.environ, "CITEQA_INDEX_WORKERS": "1"}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_kill_at_each_write_step_recovers(
    step: str,
    writable_index_dir: Path,
    tmp_path: Path,
    settings: Settings,
    processor: DocumentProcessor,
) -> None:
    acknowledged = set(Manifest.read(current_generation(writable_index_dir)).content_hashes)
    article = tmp_path / "killed-write.txt"
    article.write_text("The ferry to Isla Mujeres carried 4,210 passengers in May.\n")

    killed = _cli_add(writable_index_dir, article, step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    index = load_index(writable_index_dir, processor.embedder)  # checks every part's count
    published = step == "after-current"
    assert acknowledged <= set(index.documents)
    assert ("killed-write" in index.documents) == published
    index.close()

    report = make_writer(settings, writable_index_dir, processor).add_documents(
        [Document(doc_id="after-kill", text="Port officials reopened the north pier.\n")]
    )
    assert report.added == ["after-kill"]
    index = load_index(writable_index_dir, processor.embedder)
    assert acknowledged | {"after-kill"} <= set(index.documents)
    leftovers = [
        p.name for p in (writable_index_dir / "generations").iterdir() if p.name.startswith(".")
    ]
    assert leftovers == [] and not list(writable_index_dir.glob("CURRENT.*.tmp"))
    index.close()
