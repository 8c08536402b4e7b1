"""Shards in the index format: routing, the manifest, global statistics, pruning, and the
two steps of a distributed build (write_segment, publish_segments)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.errors import IndexMismatchError
from indexer.generations import SEGMENTS, collect_garbage, current_generation
from indexer.index import load_index
from indexer.locks import writer_lock
from indexer.manifest import MANIFEST_NAME, Manifest
from indexer.processing import ProcessedDocument
from indexer.shards import (
    STAGED_PREFIX,
    StagedSegment,
    live_shards,
    shard_of,
    staged_shards,
    write_segment,
)
from indexer.terms import CorpusStats
from service.retrieval.hybrid import BM25Retriever, DenseRetriever
from tests.indexer.fakes import DIMENSION, fake_writer, processed, vector

TEXTS = {
    f"doc-{i:02d}": f"mexico port {i}. ferry strike court. storm {i % 3} cargo vote."
    for i in range(12)
}


def _documents(ids: list[str] | None = None) -> list[ProcessedDocument]:
    return [processed(d, TEXTS[d]) for d in (ids or list(TEXTS))]


def test_shard_of_is_stable_and_spreads_documents() -> None:
    # Fixed values: the shard must not change with the process (Python's hash() would).
    assert [shard_of(f"doc-{i:02d}", 3) for i in range(6)] == [
        shard_of(f"doc-{i:02d}", 3) for i in range(6)
    ]
    assert shard_of("002_b8ec4b7f77a3a021", 3) == 2
    assert {shard_of(d, 3) for d in TEXTS} == {0, 1, 2}
    assert {shard_of(d, 1) for d in TEXTS} == {0}
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("a", 0)


def test_the_manifest_records_shards_segment_shards_and_the_statistics_hash(
    tmp_path: Path,
) -> None:
    fake_writer(tmp_path, segment_chunks=4, shards=3).add_processed(_documents())
    folder = current_generation(tmp_path)
    manifest = Manifest.read(folder)
    assert manifest.shards == 3
    assert manifest.stats_hash == CorpusStats.load(folder).digest()
    assert {e.shard for e in manifest.segments} == {0, 1, 2}
    for entry in manifest.segments:
        segment_docs = [d for d, name in manifest.locations.items() if name == entry.name]
        assert segment_docs
        # A segment only holds documents of its own shard.
        assert {shard_of(d, 3) for d in segment_docs} == {entry.shard}


def test_global_statistics_are_equal_whatever_the_shard_count(tmp_path: Path) -> None:
    digests = []
    for shards in (1, 2, 3):
        writer = fake_writer(tmp_path / str(shards), segment_chunks=3, factor=2, shards=shards)
        writer.add_processed(_documents())
        writer.delete(["doc-03", "doc-07"])
        writer.add_processed([processed("doc-05", "vote tariff. storm 92.")])
        index = load_index(tmp_path / str(shards))
        stats = index.stats
        digests.append((stats.digest(), stats.chunks, stats.total_length))
        # Each shard opens with the generation's statistics, not its own.
        for shard in range(shards):
            part = load_index(tmp_path / str(shards), shard=shard)
            assert part.stats.digest() == stats.digest()
            assert part.live_chunks < stats.chunks or shards == 1
            part.close()
        index.close()
    assert digests[0] == digests[1] == digests[2]


def test_one_shard_writes_what_an_unsharded_writer_wrote(tmp_path: Path) -> None:
    fake_writer(tmp_path / "default", segment_chunks=4, factor=2).add_processed(_documents())
    fake_writer(tmp_path / "one", segment_chunks=4, factor=2, shards=1).add_processed(_documents())
    for name in ("default", "one"):
        assert Manifest.read(current_generation(tmp_path / name)).shards == 1
    segments = [sorted((tmp_path / n / SEGMENTS).iterdir()) for n in ("default", "one")]
    assert [p.name for p in segments[0]] == [p.name for p in segments[1]]
    for a, b in zip(*segments, strict=True):
        for file in ("chunks.npy", "sentences.npy", "documents.npy", "segment.json"):
            assert (a / file).read_bytes() == (b / file).read_bytes()


def test_an_index_from_before_shards_reads_as_one_shard(tmp_path: Path) -> None:
    fake_writer(tmp_path).add_processed(_documents(["doc-00", "doc-01"]))
    path = current_generation(tmp_path) / MANIFEST_NAME
    old = json.loads(path.read_text())
    del old["shards"], old["stats_hash"]
    for entry in old["segments"]:
        del entry["shard"]
    path.write_text(json.dumps(old))
    index = load_index(tmp_path, shard=0)
    assert index.manifest.shards == 1 and sorted(index.documents) == ["doc-00", "doc-01"]
    index.close()
    fake_writer(tmp_path).add_processed(_documents(["doc-02"]))  # and it takes writes
    assert Manifest.read(current_generation(tmp_path)).documents == 3


def test_an_index_keeps_its_shard_count(tmp_path: Path) -> None:
    fake_writer(tmp_path, shards=3).add_processed(_documents(["doc-00"]))
    with pytest.raises(IndexMismatchError, match=r"3 shards.*rebuild it with"):
        fake_writer(tmp_path, shards=2).add_processed(_documents(["doc-01"]))
    with pytest.raises(IndexMismatchError, match="3 shards"):
        fake_writer(tmp_path, shards=1).delete(["doc-00"])
    # A writer that asks for no count writes with the index's (a server writing through the
    # API): the new document goes to its shard of 3.
    writer = fake_writer(tmp_path)
    writer.add_processed(_documents(["doc-01"]))
    manifest = Manifest.read(current_generation(tmp_path))
    assert (writer.shards, manifest.shards, manifest.documents) == (3, 3, 2)
    assert {e.shard for e in manifest.segments} <= {0, 1, 2}
    assert shard_of("doc-01", 3) in {e.shard for e in manifest.segments}
    # A build from scratch may choose another count; unset, a new index has one shard.
    fake_writer(tmp_path, shards=2).add_processed(_documents(["doc-01"]), fresh=True)
    assert Manifest.read(current_generation(tmp_path)).shards == 2
    fake_writer(tmp_path).add_processed(_documents(["doc-01"]), fresh=True)
    assert Manifest.read(current_generation(tmp_path)).shards == 1


def test_replacing_and_deleting_work_across_shards(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path, segment_chunks=3, factor=2, shards=3)
    writer.add_processed(_documents())
    writer.add_processed([processed("doc-04", "tariff vote. port.")])
    writer.delete(["doc-09", "doc-10"])
    manifest = Manifest.read(current_generation(tmp_path))
    assert manifest.documents == 10
    by_name = {e.name: e for e in manifest.segments}
    assert by_name[manifest.locations["doc-04"]].shard == shard_of("doc-04", 3)
    index = load_index(tmp_path)
    assert index.documents["doc-04"].text == "tariff vote. port."
    assert BM25Retriever(index).search("tariff", 10)[0].position >= 0
    index.close()


def test_a_shard_never_loses_segments_a_live_generation_names(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path, segment_chunks=2, factor=2, shards=3)
    writer.generations_to_keep = 1
    for i, doc in enumerate(_documents()):
        writer.add_processed([doc])
        if i % 4 == 3:
            writer.delete([doc.document.doc_id])
    collect_garbage(tmp_path, keep=1)
    manifest = Manifest.read(current_generation(tmp_path))
    on_disk = {p.name for p in (tmp_path / SEGMENTS).iterdir()}
    named = {e.name for e in manifest.segments}
    assert named <= on_disk
    for shard in range(3):
        part = load_index(tmp_path, shard=shard)
        assert {s.name for s in part.segments} == {
            e.name for e in manifest.segments if e.shard == shard
        }
        part.close()


def test_a_distributed_build_publishes_staged_segments_as_one_generation(tmp_path: Path) -> None:
    ids = list(TEXTS)
    staged = []
    for shard in range(3):
        mine = [d for d in ids if shard_of(d, 3) == shard]
        # Two segments per shard, as two workers would write them.
        for part in (mine[::2], mine[1::2]):
            staged.append(
                write_segment(
                    tmp_path / "staged",
                    _documents(part),
                    shard=shard,
                    shards=3,
                    dimension=DIMENSION,
                )
            )
    # A write's garbage collection leaves staged segments alone.
    collect_garbage(tmp_path / "staged", keep=2)
    assert all((tmp_path / "staged" / SEGMENTS / s.folder).is_dir() for s in staged)
    # No count asked and no live index: the count the segments were written for.
    report = fake_writer(tmp_path / "staged").publish_segments(staged, fresh=True)
    assert sorted(report.added) == ids and report.generation == 1
    assert Manifest.read(current_generation(tmp_path / "staged")).shards == 3
    assert not list((tmp_path / "staged" / SEGMENTS).glob(f"{STAGED_PREFIX}*"))
    fake_writer(tmp_path / "direct", shards=3).add_processed(_documents())
    built, direct = load_index(tmp_path / "staged"), load_index(tmp_path / "direct")
    try:
        assert built.stats.digest() == direct.stats.digest()
        for query in ("mexico port", "storm 2 cargo"):
            found = [
                (BM25Retriever(i).search(query, 100), DenseRetriever(i).search(vector(query), 100))
                for i in (built, direct)
            ]
            named = [
                [[(i.chunks[r.position].chunk_id, r.score) for r in ranked] for ranked in lists]
                for i, lists in zip((built, direct), found, strict=True)
            ]
            assert named[0] == named[1] and named[0][0] and named[0][1]
    finally:
        built.close()
        direct.close()
    # Publishing again replaces the documents the new segments hold.
    again = write_segment(
        tmp_path / "staged",
        [processed("doc-00", "tariff.")],
        shard=shard_of("doc-00", 3),
        shards=3,
        dimension=DIMENSION,
    )
    # The driver of a distributed build holds the writer lock throughout.
    # No count asked: the writer follows the live index's three shards.
    with writer_lock(tmp_path / "staged", 1.0):
        writer = fake_writer(tmp_path / "staged")
        report = writer.publish_segments([again], lock_held=True)
    assert report.replaced == ["doc-00"]
    assert Manifest.read(current_generation(tmp_path / "staged")).documents == len(ids)


def test_a_staged_segment_only_takes_its_own_shard(tmp_path: Path) -> None:
    other = next(d for d in TEXTS if shard_of(d, 3) == 1)
    with pytest.raises(ValueError, match="belongs to shard 1"):
        write_segment(tmp_path, _documents([other]), shard=0, shards=3, dimension=DIMENSION)
    assert not list((tmp_path / SEGMENTS).iterdir())
    staged = write_segment(tmp_path, _documents([other]), shard=1, shards=3, dimension=DIMENSION)
    with pytest.raises(IndexMismatchError, match="written for 3 shards"):
        fake_writer(tmp_path, shards=2).publish_segments([staged])
    assert not (tmp_path / "CURRENT").exists()  # nothing published
    fake_writer(tmp_path, shards=2).add_processed([processed("doc-x", "ferry.")])
    with pytest.raises(IndexMismatchError, match="this write has 2"):
        fake_writer(tmp_path).publish_segments([staged])  # the live index has 2 shards
    assert (tmp_path / SEGMENTS / staged.folder).is_dir()


def test_positions_in_a_shard_are_the_generations(tmp_path: Path) -> None:
    fake_writer(tmp_path, segment_chunks=3, shards=3).add_processed(_documents())
    whole = load_index(tmp_path)
    seen: set[int] = set()
    for shard in range(3):
        part = load_index(tmp_path, shard=shard)
        for segment, base in zip(part.segments, part.chunk_base, strict=False):
            for row in range(segment.chunks):
                position = int(base) + row
                assert part.chunks[position] == whole.chunks[position]
                assert np.array_equal(
                    part.chunk_vectors([position]), whole.chunk_vectors([position])
                )
                seen.add(position)
        other = next(p for p in range(whole.size) if shard_of(whole.chunks[p].doc_id, 3) != shard)
        with pytest.raises(IndexError, match=f"not in shard {shard}"):
            part.chunks[other]
        part.close()
    assert seen == set(range(whole.size))
    whole.close()


def test_the_shard_count_comes_from_the_settings_or_the_build_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import indexer.factory
    from citeqa.cli import app
    from citeqa.config import Settings

    monkeypatch.setenv("CITEQA_SHARDS", "4")
    assert Settings(_env_file=None).shards == 4  # type: ignore[call-arg]
    monkeypatch.delenv("CITEQA_SHARDS")
    assert Settings(_env_file=None).shards is None  # type: ignore[call-arg]
    asked: list[int | None] = []

    class _Writer:
        def build(self, source: list[Path]) -> object:  # noqa: ARG002
            from indexer.report import BuildReport

            return BuildReport()

    def make_writer(settings: Settings, show_progress: bool = False) -> _Writer:  # noqa: ARG001
        asked.append(settings.shards)
        return _Writer()

    monkeypatch.setattr(indexer.factory, "make_writer", make_writer)
    args = ["index", "build", "--source", str(tmp_path), "--index-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--shards", "3"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(app, args).exit_code == 0
    assert asked == [3, None]
    fake_writer(tmp_path / "index", shards=3).add_processed(_documents(["doc-00"]))
    result = CliRunner().invoke(
        app, ["index", "stats", "--json", "--index-dir", str(tmp_path / "index")]
    )
    assert json.loads(result.stdout)["shards"] == 3


def test_staged_segments_set_the_count_only_of_a_new_index() -> None:
    three = [StagedSegment("staged-a", 0, 3, 1, 1), StagedSegment("staged-b", 2, 3, 1, 1)]
    assert staged_shards(three, 1, asked=None, live=False) == 3
    with pytest.raises(IndexMismatchError, match="this write has 1"):
        staged_shards(three, 1, asked=None, live=True)
    with pytest.raises(IndexMismatchError, match="this write has 2"):
        staged_shards(three, 2, asked=2, live=False)
    mixed = [*three, StagedSegment("staged-c", 0, 2, 1, 1)]
    with pytest.raises(IndexMismatchError, match="written for 3 shards"):
        staged_shards(mixed, 1, asked=None, live=False)


def test_a_write_follows_the_live_count_unless_it_asks_for_another(tmp_path: Path) -> None:
    assert live_shards(tmp_path, 3, asked=None) == 3
    assert live_shards(tmp_path, 3, asked=3) == 3
    with pytest.raises(IndexMismatchError, match="has 3 shards, this write asks for 2"):
        live_shards(tmp_path, 3, asked=2)
