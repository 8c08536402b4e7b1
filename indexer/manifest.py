"""``manifest.json``: what a generation holds and how it was built, checked on every load.

A generation is read only by the citeqa and the model it was built for
(:func:`check_compatible`), and only if its files hold what the manifest says
(:meth:`Manifest.check_counts`).

Shards: the manifest that ``CURRENT`` names is the index's one top-level manifest, for one
shard or many. It records how many shards the index has (``shards``), the shard of every
segment (:attr:`SegmentEntry.shard`, see :mod:`indexer.shards`) and a hash of the
generation's corpus-wide statistics (``stats_hash``), which every shard scores with. It
plays the role issue 17 gives a ``manifests/mNNNNNN.json``: keeping one format for S=1 and
S>1 means the switch is the same write-fsync-rename of ``CURRENT`` (a multi-shard write is
visible all at once or not at all), the crash tests of :mod:`indexer.generations` already
cover it, and an index written before shards reads as one shard with no migration. On an
object store, publishing needs a conditional put of ``CURRENT`` (if-match on the version
read), so that two writers cannot both switch it.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cachetools import LRUCache
from pydantic import BaseModel, Field, ValidationError

from indexer.errors import IndexCorruptError, IndexMismatchError

if TYPE_CHECKING:
    from indexer.embedding import Embedder

# 2: segments (a generation lists immutable segments and their tombstones).
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"


class ChunkerSettings(BaseModel):
    chunk_size_tokens: int
    chunk_overlap_tokens: int


class SegmentEntry(BaseModel):
    """One segment a generation reads, and the documents deleted from it since it was written."""

    name: str
    documents: int
    chunks: int
    sentences: int
    factory: str
    deleted: list[str] = Field(default_factory=list)
    deleted_chunks: int = 0
    deleted_sentences: int = 0
    # The shard whose documents it holds (indexer.shards.shard_of); 0 before shards existed.
    shard: int = 0

    @property
    def live_chunks(self) -> int:
        """Chunks not deleted."""
        return self.chunks - self.deleted_chunks


# Manifests parsed or written, by the SHA-1 of their bytes: the live generation's and the
# one a write has just made (at a million chunks each holds about 100 MB of dicts).
_READ: LRUCache[str, Manifest] = LRUCache(maxsize=2)
_READ_LOCK = threading.Lock()


def _digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


class Manifest(BaseModel):
    """What a generation holds. At a million chunks its JSON is about 30 MB and takes 0.4 s
    to parse, and one API write read it three times (eval/RESULTS.md): :meth:`read` keeps
    the last few it parsed."""

    format_version: int = FORMAT_VERSION
    generation: int
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    model_name: str
    dimension: int
    # How the vectors were made (indexer/embedding.py); manifests from before backends
    # existed were all built with torch.
    embed_backend: str = "torch"
    # Which backends may search and extend the vectors (indexer.embedding.numeric_family):
    # "fp32-compatible" (torch, onnx, openvino-bf16) or "int8". None in manifests written
    # before it was recorded: read from embed_backend then.
    embed_family: Literal["fp32-compatible", "int8"] | None = None
    # A hash of the model's weight files, and of the ONNX export used (None on torch).
    embed_weights: str | None = None
    embed_export: str | None = None
    # Whether every document has named entities and noun chunks (the model-free extractor
    # reads them), or sentences alone.
    entities: bool = True
    # The configured FAISS factory ("auto" or a factory string); each segment records the
    # factory it was built with.
    faiss_index: str
    chunker: ChunkerSettings
    documents: int
    chunks: int
    sentences: int
    content_hashes: dict[str, str]
    # Which segment holds each live document.
    locations: dict[str, str] = Field(default_factory=dict)
    segments: list[SegmentEntry] = Field(default_factory=list)
    # How many shards the documents are spread over (1 before shards existed).
    shards: int = 1
    # CorpusStats.digest() of the statistics written beside it: a shard process checks that
    # it scores with the generation's own statistics. None before shards existed.
    stats_hash: str | None = None

    def family(self) -> str:
        """The vectors' family: as recorded, else that of the backend named."""
        from indexer.embedding import numeric_family  # not at the top: embedding is heavy

        return self.embed_family or numeric_family(self.embed_backend)

    def write(self, folder: Path) -> None:
        """Write ``manifest.json`` into a generation folder."""
        path = folder / MANIFEST_NAME
        data = self.model_dump_json(indent=2).encode()
        path.write_bytes(data)
        # A read that finds these very bytes gets this object; a short or damaged write has
        # other bytes, so it is parsed (and refused) as any other file is.
        with _READ_LOCK:
            _READ[_digest(data)] = self

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Read a generation's manifest; a missing or damaged one raises IndexCorruptError.

        Bytes read or written before give the object parsed or written then (hashing 30 MB
        takes a tenth of the time parsing does): treat it as read-only.
        """
        path = folder / MANIFEST_NAME
        try:
            data = path.read_bytes()
            # Keyed by content: the same bytes are the same manifest, wherever they lie.
            key = _digest(data)
            with _READ_LOCK:
                cached = _READ.get(key)
            if cached is not None:
                return cached
            manifest = cls.model_validate_json(data)
            with _READ_LOCK:
                _READ[key] = manifest
            return manifest
        except FileNotFoundError as error:
            raise IndexCorruptError(
                f"{path} is missing: the generation is incomplete; rebuild with "
                "`citeqa index build`"
            ) from error
        except ValidationError as error:
            raise IndexCorruptError(
                f"{path} is not a valid manifest ({error.error_count()} errors); rebuild with "
                "`citeqa index build`"
            ) from error

    def check_counts(self, folder: Path, *, statistics_chunks: int) -> None:
        """Raise :class:`IndexCorruptError` if its segments hold other counts than it says."""
        live_documents = sum(s.documents - len(s.deleted) for s in self.segments)
        expected = {
            "documents": (self.documents, live_documents),
            "documents located": (self.documents, len(self.locations)),
            "content hashes": (self.documents, len(self.content_hashes)),
            "chunks in the segments": (self.chunks, sum(s.live_chunks for s in self.segments)),
            "chunks in the statistics": (self.chunks, statistics_chunks),
            "sentences": (
                self.sentences,
                sum(s.sentences - s.deleted_sentences for s in self.segments),
            ),
        }
        for what, (want, have) in expected.items():
            if want != have:
                raise IndexCorruptError(
                    f"{folder}: manifest says {want} {what}, found {have}; the generation "
                    "is damaged: rebuild with `citeqa index build`"
                )

    def check_statistics(self, folder: Path, digest: str) -> None:
        """Raise :class:`IndexCorruptError` unless ``digest`` is the statistics' recorded hash
        (a manifest from before shards records none, and passes)."""
        if self.stats_hash is not None and self.stats_hash != digest:
            raise IndexCorruptError(
                f"{folder}: the corpus statistics (hash {digest}) are not those the manifest "
                f"names ({self.stats_hash}); the generation is damaged: rebuild with "
                "`citeqa index build`"
            )
        for entry in self.segments:
            if not 0 <= entry.shard < self.shards:
                raise IndexCorruptError(
                    f"{folder}: segment {entry.name} is in shard {entry.shard}, the index has "
                    f"{self.shards}; rebuild with `citeqa index build`"
                )


def check_compatible(manifest: Manifest, embedder: Embedder | None, folder: Path) -> None:
    """Raise :class:`IndexMismatchError` unless this citeqa and ``embedder`` can read it."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{folder} has index format {manifest.format_version}, this citeqa reads "
            f"{FORMAT_VERSION}; rebuild with `citeqa index build`"
        )
    if embedder is None:
        return
    from indexer.embedding import numeric_family  # not at the top: embedding is heavy

    if manifest.model_name != embedder.name or manifest.dimension != embedder.dimension:
        raise IndexMismatchError(
            f"{folder} was built with model {manifest.model_name!r} ({manifest.dimension} "
            f"dimensions) but the configured model is {embedder.name!r} ({embedder.dimension} "
            "dimensions); set CITEQA_EMBEDDING_MODEL to the model it was built with, or rebuild "
            "with `citeqa index build`"
        )
    if manifest.embed_weights and manifest.embed_weights != embedder.weights_hash:
        raise IndexMismatchError(
            f"{folder} was built with other weights of {manifest.model_name!r} (hash "
            f"{manifest.embed_weights}, the configured model's is {embedder.weights_hash}); "
            "set CITEQA_EMBEDDING_MODEL to the model it was built with, or rebuild with "
            "`citeqa index build`"
        )
    family = numeric_family(embedder.backend)
    if manifest.family() != family:
        chosen = f" (auto chose it: {embedder.choice.reason})" if embedder.choice else ""
        fix = (
            "CITEQA_EMBED_BACKEND=onnx-int8"
            if manifest.family() == "int8"
            else "CITEQA_EMBED_BACKEND to onnx, openvino-bf16 or torch"
        )
        raise IndexMismatchError(
            f"{folder} holds {manifest.family()} vectors (built with the "
            f"{manifest.embed_backend} embedding backend), which the configured "
            f"{embedder.backend} backend ({family}){chosen} cannot search or extend; set "
            f"{fix}, or rebuild with `citeqa index build`"
        )
