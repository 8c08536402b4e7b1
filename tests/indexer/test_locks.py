"""One writer per index; a generation that a process still reads is never deleted under it."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from citeqa.config import Settings
from citeqa.types import Document
from indexer.errors import IndexLockedError
from indexer.factory import make_writer
from indexer.index import load_index
from indexer.locks import READERS_LOCK, ReaderLease, remove_if_unread, writer_lock
from indexer.processing import DocumentProcessor
from indexer.segment import Segment
from tests.indexer.fakes import fake_writer, processed


def _note(number: int) -> Document:
    return Document(doc_id=f"note-{number}", text=f"The harbour logged {number} arrivals.\n")


def test_a_second_writer_waits_with_a_message_then_fails_clearly(
    writable_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    impatient = settings.model_copy(update={"writer_lock_timeout_s": 0.3})
    writer = make_writer(impatient, writable_index_dir, processor)
    with (
        writer_lock(writable_index_dir, timeout_s=0),
        caplog.at_level(logging.WARNING, "citeqa.indexer"),
        pytest.raises(IndexLockedError, match=r"process \d+ is writing to .* within 0.3 s"),
    ):
        writer.add_documents([_note(1)])
    assert "waiting for process" in caplog.text
    assert writer.add_documents([_note(1)]).added == ["note-1"]


def test_a_waiting_writer_goes_on_when_the_first_one_finishes(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    writer = make_writer(settings, writable_index_dir, processor)
    release = threading.Event()

    def hold() -> None:
        with writer_lock(writable_index_dir, timeout_s=0):
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    threading.Timer(0.3, release.set).start()
    try:
        assert writer.add_documents([_note(2)]).added == ["note-2"]
    finally:
        release.set()
        holder.join()


def test_a_generation_being_read_survives_later_writes(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    reading = load_index(writable_index_dir, processor.embedder)
    writer = make_writer(settings, writable_index_dir, processor)
    for number in range(3):  # generations_to_keep is 2: without a lease it would be pruned
        writer.add_documents([_note(number)])
    assert reading.folder.is_dir()
    doc_id = next(iter(reading.documents))
    assert reading.spans(doc_id, "sentence")

    reading.close()
    writer.add_documents([_note(9)])
    assert not reading.folder.exists()
    assert len(list((writable_index_dir / "generations").iterdir())) == 2


def test_a_lease_on_a_generation_being_removed_is_refused(tmp_path: Path) -> None:
    # What a reader finds when a writer deleted the folder while it waited for the lock.
    folder = tmp_path / "g000007"
    folder.mkdir()
    (folder / READERS_LOCK).touch()
    with pytest.raises(FileNotFoundError, match="removed"):
        ReaderLease(folder)
    (folder / "manifest.json").write_text("{}")
    ReaderLease(folder).release()
    assert remove_if_unread(folder) and not folder.exists()


def test_closing_a_segment_closes_every_threads_connection(tmp_path: Path) -> None:
    fake_writer(tmp_path).add_processed([processed("a", "One. Two. Three.")])
    segment = Segment(next((tmp_path / "segments").iterdir()))
    opened: list[sqlite3.Connection] = []
    worker = threading.Thread(target=lambda: opened.append(segment._db()))
    worker.start()
    worker.join()
    segment.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")
