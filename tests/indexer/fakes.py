"""Documents processed without any model (random vectors, naive sentences), for index tests."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np

from citeqa.types import Chunk, Document, Span
from indexer.annotate import Annotations
from indexer.merging import MergePolicy
from indexer.processing import DocumentProcessor, ProcessedDocument, content_hash
from indexer.writer import IndexWriter

DIMENSION = 8
_SENTENCE = re.compile(r"[^.]+\.?")


def vector(seed: str) -> np.ndarray:
    """A unit vector derived from a string (the same string, the same vector)."""
    rng = np.random.default_rng(abs(hash(seed)) % (1 << 32))
    v = rng.normal(size=DIMENSION).astype(np.float32)
    return v / np.linalg.norm(v)


def processed(doc_id: str, text: str, per_chunk: int = 2) -> ProcessedDocument:
    """A document cut into sentences at full stops, chunks of ``per_chunk`` sentences."""
    document = Document(doc_id=doc_id, text=text)
    document = Document(doc_id=doc_id, text=text, content_hash=content_hash(document))
    sentences = [
        Span(m.start(), m.end(), "sentence") for m in _SENTENCE.finditer(text) if m.group().strip()
    ]
    chunks: list[Chunk] = []
    for i in range(0, len(sentences), per_chunk):
        group = sentences[i : i + per_chunk]
        start, end = group[0].start, group[-1].end
        chunks.append(Chunk(doc_id, len(chunks), start, end, text[start:end], tuple(group)))
    return ProcessedDocument(
        document,
        chunks,
        Annotations(sentences, [], []),
        np.array([vector(c.text) for c in chunks], dtype=np.float32).reshape(-1, DIMENSION),
        np.array([vector(text[s.start : s.end]) for s in sentences], dtype=np.float32).reshape(
            -1, DIMENSION
        ),
    )


def fake_processor() -> DocumentProcessor:
    """What the writer reads of a processor, without loading any model."""
    embedder = SimpleNamespace(
        name="fake", dimension=DIMENSION, backend="torch", weights_hash=None, export_hash=None
    )
    namespace: Any = SimpleNamespace(
        embedder=embedder,
        annotator=SimpleNamespace(entities=True),
        chunker=SimpleNamespace(chunk_size=200, chunk_overlap=40),
    )
    return cast(DocumentProcessor, namespace)


def fake_writer(
    index_dir: Path, segment_chunks: int = 25_000, factor: int = 10, shards: int | None = None
) -> IndexWriter:
    """A writer for :func:`processed` documents."""
    return IndexWriter(
        index_dir,
        fake_processor(),
        segment_chunks=segment_chunks,
        merge_policy=MergePolicy(factor=factor, floor=4, largest=10_000),
        shards=shards,
    )
