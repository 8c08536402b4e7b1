"""The stages of a Ray build, as plain functions of a batch (``dict`` of numpy columns).

Ray Data calls them (:mod:`indexer.ray_build` assembles the pipeline); tests call them
directly. Every row carries its reading position (``order``: the file, ``sub``: the document
in it), so the write stage can restore the order a local build reads documents in. Documents
travel between processes pickled (``payload``); nothing pickled is stored.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.config import Settings
from indexer.loaders import SkippedFile, load_file
from indexer.shards import shard_of, write_segment

Batch = dict[str, np.ndarray]
# A row that holds no document (a skipped file) goes to this pseudo-shard.
NO_SHARD = -1
NO_TEXT_LEFT = "no article text left after removing boilerplate"


def _row_batch(rows: list[dict[str, Any]]) -> Batch:
    """Rows as one batch; every row has every column (an empty batch has none of them)."""
    columns = ("order", "sub", "shard", "doc_id", "path", "reason", "payload")
    batch: Batch = {}
    for name in columns:
        values = [row[name] for row in rows]
        batch[name] = np.array(values, dtype=object if name == "payload" else None)
    if not rows:
        batch = {name: np.array([], dtype=object) for name in columns}
    return batch


def _rows(batch: Batch) -> list[dict[str, Any]]:
    return [dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)]


def read_files(batch: Batch, shards: int) -> Batch:
    """Stage 1: read each file of ``batch["path"]`` into document rows and skipped rows."""
    rows: list[dict[str, Any]] = []
    for order, name in zip(batch["order"], batch["path"], strict=True):
        path = Path(str(name))
        skipped: list[SkippedFile] = []
        if path.exists():
            documents = load_file(path, skipped)
        else:  # as a local build words it
            documents = []
            skipped.append(SkippedFile(str(path), "no such file or folder"))
        for sub, document in enumerate(documents):
            rows.append(
                {
                    "order": int(order),
                    "sub": sub,
                    "doc_id": document.doc_id,
                    "shard": shard_of(document.doc_id, shards),
                    "path": str(path),
                    "reason": "",
                    "payload": pickle.dumps(document),
                }
            )
        for sub, item in enumerate(skipped, start=len(documents)):
            rows.append(_skipped_row(int(order), sub, item.path, item.reason))
    return _row_batch(rows)


def _skipped_row(order: int, sub: int, path: str, reason: str) -> dict[str, Any]:
    return {
        "order": order,
        "sub": sub,
        "shard": NO_SHARD,
        "doc_id": "",
        "path": path,
        "reason": reason,
        "payload": b"",
    }


class ProcessDocuments:
    """Stage 2: clean, chunk, annotate and embed documents; spaCy and the encoder load once."""

    def __init__(self, settings: Settings, device: str) -> None:
        from indexer.embedding import Embedder
        from indexer.factory import make_embedder, make_processor

        embedder = (
            make_embedder(settings)
            if device == "cpu"
            else Embedder(
                settings.resolved_embedding_model(),
                batch_size=settings.embedding_batch_size,
                device=device,
                backend=settings.embed_backend,
                cache_dir=settings.resolved_model_cache_dir(),
            )
        )
        # One thread: the actor holds one CPU, and Ray sets its thread counts to match.
        self.processor = make_processor(settings, embedder, workers=1)

    def __call__(self, batch: Batch) -> Batch:
        """Process the batch's documents; one left without text becomes a skipped row."""
        rows = _rows(batch)
        todo = [i for i, row in enumerate(rows) if row["shard"] != NO_SHARD]
        documents = [pickle.loads(rows[i]["payload"]) for i in todo]
        for i, item in zip(todo, self.processor.process(documents), strict=True):
            if item.chunks:
                rows[i]["payload"] = pickle.dumps(item)
            else:
                where = item.document.path or item.document.doc_id
                rows[i] = _skipped_row(rows[i]["order"], rows[i]["sub"], where, NO_TEXT_LEFT)
        return _row_batch(rows)


def write_shard(
    group: Batch, index_dir: str, shards: int, dimension: int, faiss_index: str, segment_chunks: int
) -> Batch:
    """Stage 3: one shard's processed documents into staged segments, in reading order.

    A document id read twice keeps its first reading, as a local build does: both
    readings hash to this shard, so the check needs no other task.
    """
    rows = sorted(_rows(group), key=lambda row: (row["order"], row["sub"]))
    out: dict[str, list[Any]] = {"folder": [], "shard": [], "path": [], "reason": [], "order": []}

    def emit(folder: str, shard: int, path: str, reason: str, order: int) -> None:
        for name, value in zip(out, (folder, shard, path, reason, order), strict=True):
            out[name].append(value)

    kept: dict[str, str] = {}
    pending: list[Any] = []
    pending_chunks = 0
    for row in rows:
        shard, doc_id = int(row["shard"]), str(row["doc_id"])
        if shard == NO_SHARD:
            emit("", NO_SHARD, str(row["path"]), str(row["reason"]), int(row["order"]))
            continue
        if doc_id in kept:
            reason = (
                f"duplicate document id {doc_id!r} (already read from {kept[doc_id]}); rename one"
            )
            emit("", NO_SHARD, str(row["path"]), reason, int(row["order"]))
            continue
        item = pickle.loads(row["payload"])
        kept[doc_id] = item.document.path
        pending.append(item)
        pending_chunks += len(item.chunks)
        # A segment every `segment_chunks` chunks, as a local build cuts them.
        if pending_chunks >= segment_chunks:
            emit(
                _write(index_dir, pending, shard, shards, dimension, faiss_index), shard, "", "", 0
            )
            pending, pending_chunks = [], 0
    if pending:
        shard = shard_of(pending[0].document.doc_id, shards)
        emit(_write(index_dir, pending, shard, shards, dimension, faiss_index), shard, "", "", 0)
    return {name: np.array(values, dtype=object) for name, values in out.items()}


def _write(
    index_dir: str, documents: list[Any], shard: int, shards: int, dimension: int, factory: str
) -> str:
    chunks = sum(len(item.chunks) for item in documents)
    staged = write_segment(
        Path(index_dir),
        documents,
        shard=shard,
        shards=shards,
        dimension=dimension,
        # The corpus's size is unknown until every shard is written; hashing spreads
        # documents evenly, so this segment times the shards is the estimate.
        faiss_index=factory,
        corpus_chunks=chunks * shards,
    )
    # Returned as text: a column of dataclasses would be pickled by Ray anyway.
    return f"{staged.folder}|{staged.documents}|{staged.chunks}"
