"""Turn loaded Documents into what the store keeps: clean -> chunk -> annotate -> embed.

One thread cleans, chunks and annotates documents a group at a time and queues their chunks
and sentences; the others embed them meanwhile (see indexer/parallel.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from citeqa.types import Chunk, Document, Span
from indexer.annotate import Annotations, Annotator
from indexer.chunking import Chunker, sentences_within
from indexer.cleaning import classify_lines, content_blocks, paragraphs
from indexer.embedding import Embedder, Vectors
from indexer.metadata import extract_metadata, with_metadata
from indexer.parallel import SlicedEncoder

if TYPE_CHECKING:
    from tqdm import tqdm

# Sentences are queued for embedding in groups this size: large enough to batch well,
# small enough that embedding starts while spaCy is still on later documents.
SENTENCE_BATCH = 2048
# Documents are cleaned, chunked and annotated in groups this size, so that the first chunks
# reach the encoder at once: chunking a whole corpus first would leave the encoder idle
# for seconds (eval/RESULTS.md).
DOCUMENT_GROUP = 64


@dataclass(frozen=True)
class ProcessedDocument:
    document: Document
    chunks: list[Chunk]
    annotations: Annotations
    chunk_vectors: Vectors
    sentence_vectors: Vectors


def content_hash(document: Document) -> str:
    """Hash of the text and the metadata the source gave; unchanged files hash the same."""
    payload = json.dumps(
        [document.text, document.title, document.source, document.published, document.url]
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Prepared:
    document: Document
    chunks: list[Chunk]  # sentences are attached once spaCy has run
    paragraphs: list[Span]
    published_span: Span | None


@dataclass(frozen=True)
class _Queued:
    """A batch prepared, its texts queued for embedding (each gather waits for its slice)."""

    prepared: list[_Prepared]
    annotations: list[Annotations]
    chunk_batches: list[Callable[[], Vectors]]
    sentence_batches: list[Callable[[], Vectors]]


class DocumentProcessor:
    """Holds the models; processes documents in batches so embedding stays batched."""

    def __init__(
        self, embedder: Embedder, annotator: Annotator, chunker: Chunker, workers: int = 1
    ) -> None:
        self.embedder = embedder
        self.annotator = annotator
        self.chunker = chunker
        self.workers = max(1, workers)

    def _prepare(self, document: Document) -> _Prepared:
        classified = classify_lines(document.text)
        metadata = extract_metadata(classified)
        filled = replace(with_metadata(document, metadata), content_hash=content_hash(document))
        published_span = (
            metadata.published_span
            if metadata.published_span and filled.published == metadata.published
            else None
        )
        # Chunk boundaries come from the splitter's own separators, not from spaCy, so
        # chunks can be embedded while spaCy is still running.
        chunks = self.chunker.chunk(filled.doc_id, filled.text, content_blocks(classified), [])
        return _Prepared(filled, chunks, paragraphs(classified), published_span)

    def process(
        self, documents: Sequence[Document], show_progress: bool = False
    ) -> list[ProcessedDocument]:
        """Clean, annotate, chunk and embed the documents, side by side on every core."""
        return [
            item for batch in self.process_batches([documents], show_progress) for item in batch
        ]

    def process_batches(
        self, batches: Iterable[Sequence[Document]], show_progress: bool = False
    ) -> Iterator[list[ProcessedDocument]]:
        """:meth:`process` each batch, in order, with no pause for the cores between batches.

        One pool serves the whole stream. A batch's preparation (clean, chunk, annotate) is
        queued on it as soon as the batch before has queued its last texts, so it runs while
        the other cores embed those, and its own texts follow them in the queue: the cores
        never wait for a batch to drain before the next one starts (they did, at every batch,
        when each batch had its own pool), nor for the caller, who writes a batch while the
        next is embedded. At most two batches are in hand at a time; ``batches`` is read (files
        loaded) in the caller's thread.
        """
        from tqdm import tqdm

        # The total grows as chunks and sentences are found.
        bar = tqdm(total=0, desc="embedding", unit="text", disable=not show_progress)
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="citeqa-index")
        encoder = SlicedEncoder(pool, self.embedder, self.workers, bar.update)
        source = iter(batches)
        in_hand: deque[Future[_Queued]] = deque()
        try:
            with self.embedder.single_threaded() if self.workers > 1 else nullcontext():
                first = next(source, None)
                if first is not None:
                    in_hand.append(pool.submit(self._prepare_and_queue, first, encoder, bar))
                while in_hand:
                    queued = in_hand.popleft().result()
                    following = next(source, None)
                    if following is not None:
                        # Behind this batch's texts in the pool's queue: it starts when the
                        # first core frees up, while the others still embed.
                        in_hand.append(
                            pool.submit(self._prepare_and_queue, following, encoder, bar)
                        )
                    yield self._assemble(queued)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()

    def _prepare_and_queue(
        self, documents: Sequence[Document], encoder: SlicedEncoder, bar: tqdm[object]
    ) -> _Queued:
        """Clean, chunk and annotate; queue chunks and sentences for embedding as found."""
        prepared: list[_Prepared] = []
        annotations: list[Annotations] = []
        # Never empty: a batch is queued even when it holds no text.
        chunk_batches = [encoder.submit([])]
        sentence_batches: list[Callable[[], Vectors]] = []
        pending: list[str] = []
        for begin in range(0, len(documents), DOCUMENT_GROUP):
            group = [self._prepare(d) for d in documents[begin : begin + DOCUMENT_GROUP]]
            chunk_texts = [c.text for item in group for c in item.chunks]
            bar.total += len(chunk_texts)
            chunk_batches.append(encoder.submit(chunk_texts))
            prepared += group
            stream = self.annotator.annotate_many([(p.document.text, p.paragraphs) for p in group])
            for item, found in zip(group, stream, strict=True):
                if item.published_span is not None:
                    found.metadata.append(item.published_span)
                annotations.append(found)
                pending += [item.document.text[s.start : s.end] for s in found.sentences]
                if len(pending) >= SENTENCE_BATCH:
                    bar.total += len(pending)
                    sentence_batches.append(encoder.submit(pending))
                    pending = []
        bar.total += len(pending)
        sentence_batches.append(encoder.submit(pending))
        return _Queued(prepared, annotations, chunk_batches, sentence_batches)

    @staticmethod
    def _assemble(queued: _Queued) -> list[ProcessedDocument]:
        """The batch's documents with their vectors, once every text of it is embedded."""
        prepared, annotations = queued.prepared, queued.annotations
        chunk_vectors = np.concatenate([gather() for gather in queued.chunk_batches])
        sentence_vectors = np.concatenate([gather() for gather in queued.sentence_batches])
        result = []
        chunk_at = sentence_at = 0
        for item, found in zip(prepared, annotations, strict=True):
            n_chunks, n_sentences = len(item.chunks), len(found.sentences)
            chunks = [
                replace(c, sentences=sentences_within(found.sentences, c.char_start, c.char_end))
                for c in item.chunks
            ]
            result.append(
                ProcessedDocument(
                    item.document,
                    chunks,
                    found,
                    chunk_vectors[chunk_at : chunk_at + n_chunks],
                    sentence_vectors[sentence_at : sentence_at + n_sentences],
                )
            )
            chunk_at += n_chunks
            sentence_at += n_sentences
        return result
