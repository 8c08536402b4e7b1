"""Build an index on Ray Data: ``citeqa index build --engine ray --shards S``.

The pipeline, stage by stage (each a Ray Data operator, streaming blocks between them):

1. **read** (tasks, which Ray fuses into the actors of stage 2 when their CPUs match): each
   file is read, decoded and parsed into Documents (:func:`indexer.loaders.load_file`); a
   bad file becomes a row that names it and why;
2. **process** (an actor pool, :class:`ProcessDocuments`): boilerplate cleaning, chunking,
   spaCy annotation and embedding, by the very :class:`DocumentProcessor` of a local build,
   loaded once per actor; CPUs, or GPUs with ``gpus_per_actor`` and ``batch_size``;
3. **write** (tasks, one per shard after ``groupby(shard)``): the shard's documents, in the
   order a local build reads them, into staged segments (:func:`write_segment`);
4. **publish** (the driver): one generation with
   :meth:`IndexWriter.publish_segments`, under the writer lock held since before stage 1.

Annotation, chunking and embedding share one actor class rather than two pools. Ray Data
actors must take whole CPUs on small nodes and leave one CPU per node free for the tasks
that feed them (:func:`citeqa.ray_cluster.actor_pool_size`): a spaCy pool and an embedding
pool of one CPU each, plus one read task, need 3 CPUs, and this machine has 2, so the split
pipeline cannot run here at all. One actor also avoids sending every chunk's annotations
through the object store between the pools, and it runs the local build's own code, which
is what makes the two builds equal. On a cluster with many CPUs per node the split would let
spaCy and the encoder scale apart; that is left for when measurement asks for it.

The stages themselves are in :mod:`indexer.ray_stages`. Only ``--engine ray`` imports this
module, and Ray is imported inside its functions.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from citeqa.config import Settings
from citeqa.ray_cluster import RayClusterConfig, actor_pool_size, connect, disconnect, require_ray
from indexer.errors import RayBuildError
from indexer.generations import SEGMENTS
from indexer.loaders import SkippedFile, iter_source_files
from indexer.locks import writer_lock
from indexer.ray_stages import ProcessDocuments, read_files, write_shard
from indexer.report import BuildReport
from indexer.shards import STAGED_PREFIX, StagedSegment

# Ray Data asks 1 CPU per task unless told otherwise; actors take whole CPUs too (see above).
CPUS_PER_ACTOR = 1.0


@dataclass(frozen=True)
class RayBuildOptions:
    """How a Ray build runs.

    Attributes:
        shards: Shards the new index spreads its documents over.
        gpus_per_actor: GPUs each processing actor reserves (0: CPUs only). The embedder
            then runs on CUDA, which only the torch backend does.
        batch_size: Documents per actor call; larger batches embed better on a GPU.
    """

    shards: int
    gpus_per_actor: float = 0.0
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError("shards must be at least 1")
        if self.gpus_per_actor < 0:
            raise ValueError("gpus_per_actor must not be negative")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


def check_supported(settings: Settings, options: RayBuildOptions) -> None:
    """Refuse settings a Ray build does not honour, saying what to change."""
    if options.gpus_per_actor > 0 and settings.embed_backend != "torch":
        raise RayBuildError(
            f"--gpus runs the embedder on CUDA, which the {settings.embed_backend} backend "
            "cannot: set CITEQA_EMBED_BACKEND=torch, or leave out --gpus"
        )


def build_on_ray(
    settings: Settings,
    sources: Sequence[Path],
    options: RayBuildOptions,
    say: Callable[[str], None] = lambda _: None,
    show_progress: bool = False,
) -> BuildReport:
    """Build ``settings.index_dir`` from scratch on the cluster of ``settings.ray_address``.

    ``settings.index_dir`` must be storage every node sees at the same path (a shared POSIX
    folder). The result equals a local build with the same shard count: documents, chunks,
    spans and counts, and vectors within float tolerance.

    Example (needs a Ray cluster, so not run as a doctest)::

        build_on_ray(settings, [Path("seeds")], RayBuildOptions(shards=3))
    """
    check_supported(settings, options)
    require_ray()
    config = RayClusterConfig.from_settings(settings)
    _check_reachable(config.address)
    started = time.perf_counter()
    say(f"connecting to Ray ({config.address or 'a local cluster'})")
    connect(config)
    try:
        return _build(settings, sources, options, say, show_progress, started)
    finally:
        disconnect()


def _build(
    settings: Settings,
    sources: Sequence[Path],
    options: RayBuildOptions,
    say: Callable[[str], None],
    show_progress: bool,
    started: float,
) -> BuildReport:
    import ray
    import ray.data

    from indexer.factory import make_writer

    # The driver's writer loads the models too: the manifest records the embedder's hashes,
    # the chunker's settings and whether spaCy found entities.
    settings = settings.model_copy(update={"shards": options.shards})
    writer = make_writer(settings, show_progress=show_progress)
    index_dir = settings.index_dir
    (index_dir / SEGMENTS).mkdir(parents=True, exist_ok=True)
    ray.data.DataContext.get_current().enable_progress_bars = show_progress
    with writer_lock(index_dir, settings.writer_lock_timeout_s):
        files = [str(path) for path in iter_source_files(sources)]
        say(f"reading {len(files)} files into {options.shards} shards")
        try:
            rows = _run_pipeline(settings, files, options, writer.embedder.dimension)
        except BaseException:
            _remove_staged(index_dir)
            raise
        staged, skipped = _collect(rows, options.shards)
        read_seconds = time.perf_counter() - started
        say(f"publishing {len(staged)} segments")
        report = writer.publish_segments(staged, fresh=True, lock_held=True)
    report.skipped = skipped + report.skipped
    report.stage_seconds["ray pipeline"] = read_seconds
    report.seconds = time.perf_counter() - started
    return report


def _run_pipeline(
    settings: Settings, files: list[str], options: RayBuildOptions, dimension: int
) -> list[dict[str, Any]]:
    import ray
    import ray.data

    if not files:
        return []  # an empty dataset has no columns to group by
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    cluster_cpus = float(resources.get("CPU", 0))
    actors = actor_pool_size(cluster_cpus, CPUS_PER_ACTOR, settings.ray_build_headroom_cpus)
    if options.gpus_per_actor > 0:
        gpus = float(resources.get("GPU", 0))
        actors = min(actors, int(gpus / options.gpus_per_actor))
        if actors < 1:
            raise RayBuildError(
                f"the cluster has {gpus} GPUs, fewer than one actor's {options.gpus_per_actor}; "
                "lower --gpus or add a GPU node"
            )
    items = [{"order": order, "path": path} for order, path in enumerate(files)]
    dataset = (
        ray.data.from_items(items, override_num_blocks=min(len(items), 4 * actors + 4))
        .map_batches(
            partial(read_files, shards=options.shards), batch_size=None, batch_format="numpy"
        )
        .map_batches(
            ProcessDocuments,
            fn_constructor_kwargs={
                "settings": settings,
                "device": "cuda" if options.gpus_per_actor > 0 else "cpu",
            },
            batch_size=options.batch_size,
            batch_format="numpy",
            num_cpus=CPUS_PER_ACTOR,
            num_gpus=options.gpus_per_actor or None,
            compute=ray.data.ActorPoolStrategy(size=actors),
        )
        # One partition per shard (and one for skipped rows); Ray's default is 200.
        .groupby("shard", num_partitions=options.shards + 1)
        .map_groups(
            partial(
                write_shard,
                index_dir=str(settings.index_dir.resolve()),
                shards=options.shards,
                dimension=dimension,
                faiss_index=settings.faiss_index,
                segment_chunks=settings.segment_chunks,
            ),
            batch_format="numpy",
        )
    )
    rows: list[dict[str, Any]] = dataset.take_all()
    return rows


def _remove_staged(index_dir: Path) -> None:
    """Remove the staged segments of a failed build: garbage collection never does.

    Under the writer lock every staged folder is this build's, or a dead build's: another
    distributed build waits for the lock before it writes any.
    """
    for folder in (index_dir / SEGMENTS).glob(f"{STAGED_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


def _collect(
    rows: list[dict[str, Any]], shards: int
) -> tuple[list[StagedSegment], list[SkippedFile]]:
    """The staged segments (by shard, then name) and the skipped files (in reading order)."""
    staged = []
    skipped: list[tuple[int, SkippedFile]] = []
    for row in rows:
        if row["folder"]:
            folder, documents, chunks = str(row["folder"]).split("|")
            staged.append(
                StagedSegment(folder, int(row["shard"]), shards, int(documents), int(chunks))
            )
        else:
            skipped.append((int(row["order"]), SkippedFile(str(row["path"]), str(row["reason"]))))
    staged.sort(key=lambda segment: (segment.shard, segment.folder))
    return staged, [item for _, item in sorted(skipped, key=lambda pair: pair[0])]


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast, and say what to check, when nothing listens at a cluster's address.

    ``ray.init`` retries an unreachable GCS for about a minute before it gives up.
    """
    if not address:
        return
    import socket

    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return
    except (OSError, ValueError) as error:
        raise RayBuildError(
            f"cannot reach the Ray cluster at {address!r} ({error}): check --address or "
            "CITEQA_RAY_ADDRESS (host:port of the head node's GCS) and that its head runs "
            "(`ray status`)"
        ) from error
