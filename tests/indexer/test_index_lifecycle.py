"""Incremental updates, refusal of mismatched or damaged indexes, and crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from citeqa.config import Settings
from indexer.embedding import Embedder
from indexer.errors import (
    DocumentNotFoundError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
)
from indexer.factory import make_writer
from indexer.generations import collect_garbage, current_generation
from indexer.index import load_index
from indexer.manifest import Manifest
from indexer.processing import DocumentProcessor
from service.retrieval.hybrid import DenseRetriever, fuse, ranked_lists
from service.retrieval.retriever import Retriever
from tests.conftest import REPO, SEEDS

QUERIES = [
    "How many people has Mexico extradited?",
    "Who is the US Secretary of State?",
    "What did Schumer say about El Chapo's relatives?",
    "tariffs on Mexican goods",
]


def _results(index_dir: Path, embedder: Embedder) -> list[list[tuple[str, float]]]:
    index = load_index(index_dir, embedder)
    out = []
    for query in QUERIES:
        fused = fuse(*ranked_lists(index, query, embedder.encode_query(query), 50))[:8]
        chunks = index.chunks.many([f.position for f in fused])
        out.append([(c.chunk_id, round(f.score, 6)) for f, c in zip(fused, chunks, strict=True)])
    return out


def test_incremental_updates_match_a_full_rebuild(
    tmp_path: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    incremental = make_writer(settings, tmp_path / "incremental", processor)
    incremental.build(seeds[:2])
    report = incremental.add(seeds[2:])
    assert sorted(report.added) == sorted(p.stem for p in seeds[2:])
    incremental.delete([seeds[0].stem])
    again = incremental.add(seeds[1:])
    assert not again.changed and len(again.unchanged) == 4

    full = make_writer(settings, tmp_path / "full", processor)
    full.build(seeds[1:])
    embedder = processor.embedder
    got, want = _results(tmp_path / "incremental", embedder), _results(tmp_path / "full", embedder)
    for query, a, b in zip(QUERIES, got, want, strict=True):
        assert [c for c, _ in a] == [c for c, _ in b], query
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-4), query


def test_changed_document_replaces_its_chunks(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor, tmp_path: Path
) -> None:
    changed = tmp_path / "002_b8ec4b7f77a3a021.txt"
    changed.write_text("Mexico extradited 40 people to Peru on Friday.\n", encoding="utf-8")
    writer = make_writer(settings, writable_index_dir, processor)
    report = writer.add([changed])
    assert report.replaced == ["002_b8ec4b7f77a3a021"]
    index = load_index(writable_index_dir, processor.embedder)
    chunks = [c for c in index.chunks if c.doc_id == "002_b8ec4b7f77a3a021"]
    assert [c.text for c in chunks] == ["Mexico extradited 40 people to Peru on Friday."]


def test_delete_of_unknown_document_is_refused(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    with pytest.raises(DocumentNotFoundError, match="not in the index: nope"):
        make_writer(settings, writable_index_dir, processor).delete(["nope"])


def test_missing_index_says_how_to_build_one(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(IndexNotFoundError, match="citeqa index build"):
        load_index(tmp_path / "empty", embedder)


def test_index_built_with_another_model_is_refused(
    writable_index_dir: Path, embedder: Embedder
) -> None:
    manifest_path = current_generation(writable_index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model_name"] = "some-other-model"
    manifest["dimension"] = 768
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"some-other-model.*CITEQA_EMBEDDING_MODEL"):
        load_index(writable_index_dir, embedder)


def test_truncated_vector_file_is_refused(writable_index_dir: Path, embedder: Embedder) -> None:
    [segment] = Manifest.read(current_generation(writable_index_dir)).segments
    vectors = writable_index_dir / "segments" / segment.name / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    with pytest.raises(IndexCorruptError, match="truncated or damaged"):
        load_index(writable_index_dir, embedder)


def test_parts_that_disagree_in_count_are_refused(
    writable_index_dir: Path, embedder: Embedder
) -> None:
    manifest_path = current_generation(writable_index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["chunks"] += 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="manifest says"):
        load_index(writable_index_dir, embedder)


@pytest.mark.slow
def test_build_killed_mid_write_leaves_the_old_generation(
    writable_index_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    before = current_generation(writable_index_dir)
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(40):
        (extra / f"extra-{i:02d}.txt").write_text(
            f"Article {i}\n\n" + "The council met again on Tuesday to debate the budget. " * 30,
            encoding="utf-8",
        )
    command = [
        sys.executable,
        "-m",
        "citeqa.cli",
        "index",
        "add",
        str(extra),
        "--index-dir",
        str(writable_index_dir),
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CITEQA_EMBEDDING_BATCH_SIZE": "4"},
    )
    # The write is under way once its new segment's temporary folder exists (the new
    # generation's own folder only lives for the moment of publishing).
    segments = writable_index_dir / "segments"
    deadline = time.monotonic() + 240
    while not any(p.name.startswith(".tmp-") for p in segments.iterdir()):
        assert process.poll() is None, "the writer finished before it could be killed"
        assert time.monotonic() < deadline, "the writer never started writing"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert current_generation(writable_index_dir) == before
    index = load_index(writable_index_dir, embedder)
    assert len(index.documents) == 5
    question = "How many people has Mexico extradited?"
    assert Retriever(index).retrieve(question, embedder.encode_query(question), 3)
    index.close()
    # What the killed write left is garbage to the next writer.
    removed = collect_garbage(writable_index_dir, keep=2)
    assert any(p.parent == segments and p.name.startswith(".tmp-") for p in removed)


def test_bad_files_are_reported_and_skipped(
    tmp_path: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(next(SEEDS.glob("002_*.txt")), source)
    (source / "empty.txt").write_text("   \n")
    (source / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (source / "latin1.txt").write_bytes("Caf\xe9 au lait, s'il vous pla\xeet.".encode("latin-1"))
    (source / "report.pdf").write_bytes(b"%PDF-1.4")
    (source / "feed.jsonl").write_text(
        '{"id": "wire-1", "text": "The central bank raised rates by half a point on Monday.",'
        ' "title": "Rates rise", "source": "Wire", "published": "2025-01-02"}\n'
        "not json\n"
        '{"id": "../escape", "text": "x"}\n',
        encoding="utf-8",
    )
    report = make_writer(settings, tmp_path / "index", processor).build([source])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "unsupported file type .pdf" in reasons["report.pdf"]
    assert "feed.jsonl:2" in reasons and "feed.jsonl:3" in reasons
    assert all(str(source) not in reason for reason in reasons.values())  # named once
    assert sorted(report.added) == ["002_b8ec4b7f77a3a021", "latin1", "wire-1"]
    index = load_index(tmp_path / "index", processor.embedder)
    wire = index.documents["wire-1"]
    assert (wire.title, wire.source, wire.published) == ("Rates rise", "Wire", "2025-01-02")
    # A legacy Windows-1252 file is read, not refused.
    assert index.documents["latin1"].text == "Café au lait, s'il vous plaît."


def test_html_articles_are_extracted(
    tmp_path: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    page = tmp_path / "page.html"
    body = " ".join(["The port of Veracruz handled record cargo volumes this spring."] * 4)
    page.write_text(
        f"<html><head><title>Port news</title></head><body><nav>Home | About</nav>"
        f"<article><h1>Record cargo at Veracruz</h1><p>{body}</p><p>{body}</p></article>"
        "<footer>Copyright 2025</footer></body></html>",
        encoding="utf-8",
    )
    report = make_writer(settings, tmp_path / "index", processor).build([page])
    assert report.added == ["page"], report.skipped
    index = load_index(tmp_path / "index", processor.embedder)
    assert "Veracruz handled record cargo" in index.documents["page"].text
    assert "Home | About" not in index.documents["page"].text


def test_approximate_index_type_finds_the_same_top_chunk(
    tmp_path: Path, settings: Settings, processor: DocumentProcessor, seed_index_dir: Path
) -> None:
    hnsw_settings = settings.model_copy(update={"faiss_index": "HNSW32"})
    make_writer(hnsw_settings, tmp_path / "hnsw", processor).build([SEEDS])
    approximate = load_index(tmp_path / "hnsw", processor.embedder)
    exact = load_index(seed_index_dir, processor.embedder)
    assert approximate.manifest.faiss_index == "HNSW32"
    assert [s.factory for s in approximate.manifest.segments] == ["HNSW32"]
    for query in QUERIES:
        vector = processor.embedder.encode_query(query)
        [got] = DenseRetriever(approximate).search(vector, 1)
        [want] = DenseRetriever(exact).search(vector, 1)
        assert got.position == want.position
        assert got.score == pytest.approx(want.score, abs=1e-5)


def test_an_html_file_that_fails_to_parse_is_skipped_and_named(
    tmp_path: Path,
    settings: Settings,
    processor: DocumentProcessor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trafilatura

    def broken(*_: object, **__: object) -> str:
        raise ImportError("lxml.html.clean module is now a separate project lxml_html_clean")

    monkeypatch.setattr(trafilatura, "extract", broken)
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(next(SEEDS.glob("002_*.txt")), source)
    (source / "page.html").write_text("<html><body><p>Port news.</p></body></html>")
    report = make_writer(settings, tmp_path / "index", processor).build([source])
    assert report.added == ["002_b8ec4b7f77a3a021"]
    [skipped] = report.skipped
    assert skipped.path.endswith("page.html")
    assert "could not be parsed (ImportError" in skipped.reason


def test_the_html_cleaner_trafilatura_needs_is_declared() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("lxml_html_clean") for d in project["dependencies"])
