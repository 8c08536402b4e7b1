"""Recovery from killed writes: what a crash leaves is garbage, and the next write succeeds."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from citeqa.config import Settings
from citeqa.types import Document
from indexer.factory import make_writer
from indexer.generations import (
    WRITE_STEPS,
    collect_garbage,
    current_generation,
    generation_folders,
    next_generation_number,
)
from indexer.index import load_index
from indexer.processing import DocumentProcessor
from indexer.writer import IndexWriter

NEW_DOCUMENT = Document(
    doc_id="recovery-note",
    text="Harbour officials counted 311 container ships in March.\n",
)


class SimulatedCrash(BaseException):
    """Stands in for kill -9 in-process: nothing after the step runs."""


def _crash_at(step: str) -> Callable[[str], None]:
    def checkpoint(reached: str) -> None:
        if reached == step:
            raise SimulatedCrash(step)

    return checkpoint


def _writer(settings: Settings, index_dir: Path, processor: DocumentProcessor) -> IndexWriter:
    return make_writer(settings, index_dir, processor)


def test_an_orphaned_generation_does_not_wedge_the_next_write(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    # What a writer killed between the rename and CURRENT leaves behind.
    live = current_generation(writable_index_dir)
    orphan = live.parent / f"g{int(live.name[1:]) + 1:06d}"
    shutil.copytree(live, orphan)

    report = _writer(settings, writable_index_dir, processor).add_documents([NEW_DOCUMENT])

    assert report.added == ["recovery-note"]
    assert current_generation(writable_index_dir).name == f"g{report.generation:06d}"
    assert "recovery-note" in load_index(writable_index_dir, processor.embedder).documents


def test_the_next_number_is_above_every_folder_even_a_leftover_one(
    writable_index_dir: Path,
) -> None:
    live = current_generation(writable_index_dir)
    shutil.copytree(live, live.parent / "g000041")
    assert next_generation_number(writable_index_dir) == 42


def test_leftovers_of_killed_writes_are_removed_at_start(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    live = current_generation(writable_index_dir)
    temp = live.parent / ".tmp-0123abcd"
    temp.mkdir()
    (temp / "store.sqlite").write_bytes(b"half a database")
    pointer = writable_index_dir / "CURRENT.0123abcd.tmp"
    pointer.write_text("g000099")
    orphan = live.parent / "g000099"
    shutil.copytree(live, orphan)

    _writer(settings, writable_index_dir, processor).collect_garbage()

    assert not temp.exists() and not pointer.exists() and not orphan.exists()
    assert current_generation(writable_index_dir) == live
    assert len(load_index(writable_index_dir, processor.embedder).documents) == 5


def test_older_generations_are_kept_up_to_the_setting(tmp_path: Path) -> None:
    root = tmp_path / "generations"
    for number in range(1, 6):
        (root / f"g{number:06d}").mkdir(parents=True)
    (tmp_path / "CURRENT").write_text("g000004")
    collect_garbage(tmp_path, keep=2)
    # The live one, the one before it; g000005 was never named by CURRENT.
    assert [p.name for p in generation_folders(tmp_path)] == ["g000003", "g000004"]


@pytest.mark.parametrize("step", WRITE_STEPS)
def test_a_write_stopped_at_any_step_leaves_a_loadable_index_and_the_next_write_succeeds(
    step: str, writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    crashing = _writer(settings, writable_index_dir, processor)
    crashing.checkpoint = _crash_at(step)
    with pytest.raises(SimulatedCrash):
        crashing.add_documents([NEW_DOCUMENT])

    documents = load_index(writable_index_dir, processor.embedder).documents
    # Only a write stopped after CURRENT switched has published the document.
    assert ("recovery-note" in documents) == (step == "after-current")
    report = _writer(settings, writable_index_dir, processor).add_documents(
        [Document(doc_id="after-crash", text="The ferry to Cozumel resumed on Monday.\n")]
    )
    assert report.added == ["after-crash"]
    index = load_index(writable_index_dir, processor.embedder)
    assert "after-crash" in index.documents
    names = {p.name for p in (writable_index_dir / "generations").iterdir()}
    assert not any(name.startswith(".tmp-") for name in names)
    assert not list(writable_index_dir.glob("CURRENT.*.tmp"))


def test_the_fault_hook_lives_with_the_tests_not_in_the_settings() -> None:
    from tests.reliability import kill_at_step

    assert not [name for name in Settings.model_fields if "fault" in name]
    with pytest.raises(SystemExit, match="unknown write step 'somewhere'"):
        kill_at_step.install("somewhere")


def test_renames_into_place_are_flushed_in_their_parent_folder(
    settings: Settings,
    writable_index_dir: Path,
    processor: DocumentProcessor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rename is an entry in the parent folder: the new segment's and generation's names
    survive a power cut only once the parent is flushed after the rename."""
    import os

    import indexer.generations as generations

    events: list[tuple[str, str]] = []
    rename, fsync_dir = os.rename, generations._fsync_dir

    def recording_rename(source: str | Path, target: str | Path) -> None:
        rename(source, target)
        events.append(("rename", str(target)))

    def recording_fsync_dir(path: Path) -> None:
        fsync_dir(path)
        events.append(("fsync", str(path)))

    monkeypatch.setattr(os, "rename", recording_rename)
    monkeypatch.setattr(generations, "_fsync_dir", recording_fsync_dir)
    _writer(settings, writable_index_dir, processor).add_documents([NEW_DOCUMENT])

    renamed = [(i, Path(target)) for i, (kind, target) in enumerate(events) if kind == "rename"]
    assert {target.parent.name for _, target in renamed} == {"segments", "generations"}
    for at, target in renamed:
        assert ("fsync", str(target.parent)) in events[at + 1 :], f"{target} not flushed"
