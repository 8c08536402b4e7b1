"""`citeqa index build --engine ray` on the two-node cluster equals a local build.

The corpus is the five seeds, NYT dev paragraphs (read from ../shared/benchmarks at test
time, never copied into the repository) written as JSONL files, a file citeqa cannot read
and a document id read twice. Both builds go through the command line with ``--shards 3``;
the Ray one runs in a subprocess, as a driver joining the cluster with its address and token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from indexer.index import Index, SpanKind, load_index
from tests.ray.conftest import TwoNodeCluster

pytestmark = pytest.mark.slow

pytest.importorskip("ray", reason="the ray extra is not installed")

REPO = Path(__file__).resolve().parents[2]
NYT_DEV = REPO.parent / "shared" / "benchmarks" / "squadshifts-nyt" / "dev.json"
SHARDS = 3
# 200 paragraphs, the figure: measured on this 2-core machine in docs/scale-out.md.
PARAGRAPHS = 200
FILES = 8  # the paragraphs are spread over several JSONL files, so reads run in parallel
SPAN_KINDS: tuple[SpanKind, ...] = ("sentence", "entity", "noun_chunk", "metadata")


@dataclass(frozen=True)
class Builds:
    local: Path
    ray: Path
    local_output: str
    ray_output: str


def _write_corpus(folder: Path) -> None:
    from eval.datasets.squad import load_squad

    for seed in sorted((REPO / "seeds").iterdir()):
        shutil.copy(seed, folder / seed.name)
    documents = list(load_squad(NYT_DEV).documents[:PARAGRAPHS])
    for number in range(FILES):
        lines = [
            json.dumps(
                {
                    "id": d.doc_id,
                    "text": d.text,
                    "title": d.title,
                    "source": d.source,
                    "url": d.url,
                    "published": d.published,
                }
            )
            for d in documents[number::FILES]
        ]
        if number == FILES - 1:  # read last, so the first reading of 0000-000 is kept
            lines.append(json.dumps({"id": "0000-000", "text": "A second reading."}))
        (folder / f"nyt-{number}.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4")


@pytest.fixture(scope="module")
def builds(ray_cluster: TwoNodeCluster, tmp_path_factory: pytest.TempPathFactory) -> Builds:
    if not NYT_DEV.is_file():
        pytest.skip(f"{NYT_DEV} is not here (see ../shared/benchmarks/README.md)")
    root = tmp_path_factory.mktemp("ray-build")
    corpus = root / "corpus"
    corpus.mkdir()
    _write_corpus(corpus)
    environment = {
        **os.environ,
        "CITEQA_RAY_AUTH_TOKEN": ray_cluster.auth_token,
        "PYTHONPATH": str(REPO),
        "COLUMNS": "250",  # rich wraps at 80 columns otherwise
    }
    command = [sys.executable, "-m", "citeqa.cli", "index", "build", "--source", str(corpus)]
    started = time.perf_counter()
    ray_run = subprocess.run(
        [
            *command,
            "--index-dir",
            str(root / "ray"),
            "--shards",
            str(SHARDS),
            "--engine",
            "ray",
            "--address",
            ray_cluster.address,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    ray_seconds = time.perf_counter() - started
    assert ray_run.returncode == 0, (ray_run.stdout + ray_run.stderr)[-4000:]
    started = time.perf_counter()
    local_run = subprocess.run(
        [*command, "--index-dir", str(root / "local"), "--shards", str(SHARDS)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    local_seconds = time.perf_counter() - started
    assert local_run.returncode == 0, (local_run.stdout + local_run.stderr)[-4000:]
    # Seen with `pytest -s`: the figures docs/scale-out.md quotes.
    print(
        f"\nray build: {ray_seconds:.1f} s, local build: {local_seconds:.1f} s, "
        f"load average {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )
    # The report table and the skipped files go to stderr (citeqa.cli_errors.console).
    outputs = (local_run.stdout + local_run.stderr, ray_run.stdout + ray_run.stderr)
    return Builds(root / "local", root / "ray", *outputs)


@pytest.fixture()
def indexes(builds: Builds) -> Iterator[tuple[Index, Index]]:
    local, ray = load_index(builds.local), load_index(builds.ray)
    try:
        yield local, ray
    finally:
        local.close()
        ray.close()


def _vectors_by_chunk(index: Index) -> dict[str, np.ndarray]:
    positions = range(index.size)
    vectors = index.chunk_vectors(list(positions))
    return {index.chunks[p].chunk_id: vectors[p] for p in positions}


def test_the_ray_build_holds_the_documents_chunks_and_spans_of_a_local_build(
    indexes: tuple[Index, Index],
) -> None:
    local, ray = indexes
    assert ray.manifest.shards == local.manifest.shards == SHARDS
    assert sorted(ray.documents) == sorted(local.documents)
    assert len(local.documents) == 5 + PARAGRAPHS
    for doc_id in local.documents:
        assert ray.documents[doc_id] == local.documents[doc_id]
        for kind in SPAN_KINDS:
            assert ray.spans(doc_id, kind) == local.spans(doc_id, kind), (doc_id, kind)
    by_id = {chunk.chunk_id: chunk for chunk in ray.chunks}
    assert len(by_id) == len(local.chunks) == ray.manifest.chunks
    for chunk in local.chunks:
        assert by_id[chunk.chunk_id] == chunk  # text, offsets and sentences
    assert ray.stats.digest() == local.stats.digest()
    assert (ray.manifest.documents, ray.manifest.sentences) == (
        local.manifest.documents,
        local.manifest.sentences,
    )


def test_the_ray_build_has_the_per_shard_counts_and_vectors_of_a_local_build(
    builds: Builds, indexes: tuple[Index, Index]
) -> None:
    for shard in range(SHARDS):
        parts = [load_index(folder, shard=shard) for folder in (builds.local, builds.ray)]
        try:
            local, ray = parts
            assert sorted(ray.locations) == sorted(local.locations)
            assert ray.live_chunks == local.live_chunks > 0
        finally:
            for part in parts:
                part.close()
    local_vectors, ray_vectors = (_vectors_by_chunk(index) for index in indexes)
    assert ray_vectors.keys() == local_vectors.keys()
    for chunk_id, expected in local_vectors.items():
        np.testing.assert_allclose(ray_vectors[chunk_id], expected, atol=1e-5, err_msg=chunk_id)
    local, ray = indexes
    for position in range(0, local.size, 7):  # sentence vectors of every seventh chunk
        chunk_id = local.chunks[position].chunk_id
        at = next(p for p in range(ray.size) if ray.chunks[p].chunk_id == chunk_id)
        np.testing.assert_allclose(
            ray.chunk_sentences(at).vectors, local.chunk_sentences(position).vectors, atol=1e-5
        )


def test_the_ray_build_names_the_files_it_skipped_as_a_local_build_does(builds: Builds) -> None:
    for output in (builds.local_output, builds.ray_output):
        assert "scan.pdf: unsupported file type .pdf" in output, output
        assert "duplicate document id '0000-000'" in output, output
    assert "publishing" in builds.ray_output
