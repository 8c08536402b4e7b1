"""Build the indexer's components from :class:`citeqa.config.Settings`."""

from __future__ import annotations

import logging
from pathlib import Path

from citeqa.config import Settings
from indexer.annotate import Annotator, DeferredAnnotator, load_spacy
from indexer.chunking import Chunker
from indexer.embedding import Embedder
from indexer.merging import MergePolicy
from indexer.parallel import default_workers
from indexer.processing import DocumentProcessor
from indexer.writer import IndexWriter

log = logging.getLogger("citeqa")


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name; the backend it runs, and why, goes to the log."""
    embedder = Embedder(
        settings.resolved_embedding_model(),
        batch_size=settings.embedding_batch_size,
        backend=settings.embed_backend,
        cache_dir=settings.resolved_model_cache_dir(),
    )
    reason = (
        embedder.choice.reason if embedder.choice else f"CITEQA_EMBED_BACKEND={embedder.backend}"
    )
    log.info("embedding backend: %s (%s)", embedder.backend, reason)
    return embedder


def make_processor(
    settings: Settings,
    embedder: Embedder | None = None,
    workers: int | None = None,
    defer_spacy: bool = False,
) -> DocumentProcessor:
    """The document processor (cleaning, annotation, chunking, embedding) the settings describe.

    ``defer_spacy`` loads spaCy on first use (or ``annotator.start_loading()``), for a server
    that must answer queries before it writes.
    """
    embedder = embedder or make_embedder(settings)
    chunker = Chunker(
        embedder.count_tokens, settings.chunk_size_tokens, settings.chunk_overlap_tokens
    )
    workers = workers or settings.index_workers or default_workers()
    entities = settings.resolved_index_entities()
    if defer_spacy:
        return DocumentProcessor(
            embedder, DeferredAnnotator(settings.spacy_model, entities), chunker, workers
        )
    nlp = load_spacy(settings.spacy_model, entities)
    return DocumentProcessor(embedder, Annotator(nlp), chunker, workers)


def make_writer(
    settings: Settings,
    index_dir: Path | None = None,
    processor: DocumentProcessor | None = None,
    show_progress: bool = False,
) -> IndexWriter:
    """The index writer for the settings' index folder."""
    return IndexWriter(
        index_dir or settings.index_dir,
        processor or make_processor(settings),
        faiss_index=settings.faiss_index,
        segment_chunks=settings.segment_chunks,
        merge_policy=MergePolicy(
            factor=settings.segment_merge_factor, largest=settings.segment_max_chunks
        ),
        generations_to_keep=settings.generations_to_keep,
        show_progress=show_progress,
        lock_timeout_s=settings.writer_lock_timeout_s,
        shards=settings.shards,
    )
