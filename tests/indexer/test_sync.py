"""`citeqa index sync`: a folder's removed files and ids leave the index, nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citeqa.config import Settings
from citeqa.types import Document
from indexer.factory import make_writer
from indexer.generations import current_generation
from indexer.index import load_index
from indexer.manifest import Manifest
from indexer.processing import DocumentProcessor
from indexer.sync import file_of
from indexer.writer import IndexWriter

ARTICLES = {
    "budget.txt": "The city council approved a $4.2 million budget on Tuesday, the mayor said.",
    "flood.txt": "Heavy rain flooded 300 homes in Riverton on Monday, officials said.",
}
FEED = [
    {"id": "wire-1", "text": "The school board hired 45 new teachers for the autumn term."},
    {"id": "wire-2", "text": "The library extended its opening hours to 9 p.m. on weekdays."},
]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """A synced folder (two articles and a JSONL feed) and another folder beside it."""
    synced, other = tmp_path / "news", tmp_path / "other"
    synced.mkdir()
    other.mkdir()
    for name, text in ARTICLES.items():
        (synced / name).write_text(text)
    (synced / "feed.jsonl").write_text("".join(json.dumps(a) + "\n" for a in FEED))
    (other / "bridge.txt").write_text("The Main Street bridge reopened on Friday after repairs.")
    return synced, other


@pytest.fixture
def writer(
    tmp_path: Path, settings: Settings, processor: DocumentProcessor, folders: tuple[Path, Path]
) -> IndexWriter:
    writer = make_writer(settings, tmp_path / "index", processor)
    writer.build(list(folders))
    writer.add_documents([Document(doc_id="api-1", text="A council vote is set for May.")])
    return writer


def _ids(writer: IndexWriter) -> list[str]:
    return sorted(load_index(writer.index_dir, writer.embedder).manifest.content_hashes)


def test_a_removed_file_and_a_removed_id_leave_in_one_generation(
    writer: IndexWriter, folders: tuple[Path, Path]
) -> None:
    synced, _ = folders
    before = Manifest.read(current_generation(writer.index_dir)).generation
    (synced / "flood.txt").unlink()
    (synced / "feed.jsonl").write_text(json.dumps(FEED[0]) + "\n")
    (synced / "storm.txt").write_text("A storm closed the port of Eastbay for two days.")
    report = writer.sync([synced])
    assert (report.added, report.deleted) == (["storm"], ["flood", "wire-2"])
    assert sorted(report.unchanged) == ["budget", "wire-1"]
    # The other folder's article and the one written through the API stay.
    assert _ids(writer) == ["api-1", "bridge", "budget", "storm", "wire-1"]
    assert report.generation == before + 1


def test_a_file_that_cannot_be_read_now_keeps_its_document(
    writer: IndexWriter, folders: tuple[Path, Path]
) -> None:
    synced, _ = folders
    (synced / "flood.txt").write_bytes(b"\x00\x01binary now")
    (synced / "feed.jsonl").write_text("not json\n" + json.dumps(FEED[0]) + "\n")
    report = writer.sync([synced])
    assert [Path(s.path).name for s in report.skipped] == ["feed.jsonl:1", "flood.txt"]
    # A bad line of a feed is no article: the feed's other id left it.
    assert report.deleted == ["wire-2"]
    assert "flood" in _ids(writer)


def test_a_sync_with_nothing_changed_writes_no_generation(
    writer: IndexWriter, folders: tuple[Path, Path]
) -> None:
    before = current_generation(writer.index_dir).name
    report = writer.sync([folders[0]])
    assert (report.added, report.replaced, report.deleted) == ([], [], [])
    assert current_generation(writer.index_dir).name == before


def test_a_sync_finds_its_documents_from_any_folder(
    writer: IndexWriter, folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    synced, _ = folders
    (synced / "budget.txt").unlink()
    monkeypatch.chdir(synced)
    assert writer.sync([Path(".")]).deleted == ["budget"]


def test_a_synced_file_is_itself_a_root(writer: IndexWriter, folders: tuple[Path, Path]) -> None:
    synced, _ = folders
    (synced / "feed.jsonl").write_text(json.dumps(FEED[1]) + "\n")
    report = writer.sync([synced / "feed.jsonl"])
    assert report.deleted == ["wire-1"]
    assert "budget" in _ids(writer)  # beside the file, not under it


def test_recorded_paths_name_their_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert file_of("news/feed.jsonl:12") == tmp_path / "news" / "feed.jsonl"
    assert file_of(f"{tmp_path}/news/list.json[3]") == tmp_path / "news" / "list.json"
    assert file_of("news/../news/a.txt") == tmp_path / "news" / "a.txt"
    assert file_of(None) is None
    assert file_of("api") is None  # what a document written through the API records


def test_a_synced_folder_named_api_keeps_the_apis_documents(
    writer: IndexWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer.add_documents([Document(doc_id="api-2", text="A vote is set.", path="api")])
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "note.txt").write_text("The port reopened on Friday after repairs.")
    monkeypatch.chdir(tmp_path)
    report = writer.sync([Path("api")])
    assert (report.added, report.deleted) == (["note"], [])
    assert "api-2" in _ids(writer)
