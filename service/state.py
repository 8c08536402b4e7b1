"""The heavy objects, loaded once: models, the live index, and the writer that replaces it.

Queries read ``engine`` (one reference, swapped atomically after each write), so they keep
working on the old generation while an update is being written.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from citeqa.config import Settings
from citeqa.types import Document
from indexer.embedding import Embedder
from indexer.errors import IndexNotFoundError
from indexer.index import load_index
from indexer.pipeline import DocumentProcessor
from indexer.writer import BuildReport, IndexWriter
from service.answering.pipeline import QueryEngine
from service.errors import NotReadyError
from service.reading.errors import ReaderError
from service.reading.reader import SpanReader

log = logging.getLogger("citeqa")


def make_reader(settings: Settings) -> SpanReader | None:
    """The span reader, or None for the model-free extractor.

    ``CITEQA_READER=none`` asks for the extractor. A reader the user named that cannot load
    is an error; the shipped one missing (a broken install) falls back with a warning.
    """
    if settings.reader == "none":
        return None
    try:
        return SpanReader(
            settings.resolved_reader_model(),
            threads=settings.reader_threads,
            max_length=settings.reader_window_tokens,
        )
    except ReaderError as error:
        if settings.reader_model:
            raise
        log.warning("no span reader (%s); answering with the model-free extractor", error)
        return None


@dataclass
class ServiceState:
    settings: Settings
    embedder: Embedder
    writer: IndexWriter
    reader: SpanReader | None = None
    engine: QueryEngine | None = None

    def __post_init__(self) -> None:
        self._write_lock = threading.Lock()

    def reload(self) -> None:
        index = load_index(self.settings.index_dir, self.embedder)
        self.engine = QueryEngine(
            index, self.embedder,
            self.settings.resolved_abstain_threshold(self.reader is not None), self.reader,
            self.settings.reader_passages, self.settings.reader_typed_rules,
        )  # fmt: skip

    def require_engine(self) -> QueryEngine:
        engine = self.engine
        if engine is None:
            raise NotReadyError(
                f"no index loaded from {self.settings.index_dir}; build one with "
                "`citeqa index build --source seeds` or POST /v1/documents"
            )
        return engine

    def add_documents(self, documents: list[Document]) -> BuildReport:
        with self._write_lock:
            report = self.writer.add_documents(documents)
            if report.changed or self.engine is None:
                self.reload()
            return report

    def delete_documents(self, doc_ids: list[str]) -> BuildReport:
        with self._write_lock:
            report = self.writer.delete(doc_ids)
            self.reload()
            return report


def load_state(settings: Settings, processor: DocumentProcessor | None = None) -> ServiceState:
    """Load models and the current index; a missing index leaves the service not ready."""
    import torch

    from indexer.factory import make_embedder, make_processor, make_writer

    torch.set_num_threads(settings.torch_threads)
    if processor is None:
        # A threaded build sets torch to one thread process-wide while it runs; under a
        # server that would slow every query served meanwhile, so API writes go sequentially.
        processor = make_processor(settings, make_embedder(settings), workers=1)
    embedder = processor.embedder
    writer = make_writer(settings, processor=processor)
    state = ServiceState(settings, embedder, writer, reader=make_reader(settings))
    writer.collect_garbage()
    try:
        state.reload()
    except IndexNotFoundError as error:
        log.warning("starting without an index: %s", error)
    return state


def load_engine(settings: Settings) -> QueryEngine:
    """Models and index for one-off use (the CLI's `ask`, the eval harness)."""
    import torch

    from indexer.factory import make_embedder

    torch.set_num_threads(settings.torch_threads)
    embedder = make_embedder(settings)
    index = load_index(settings.index_dir, embedder)
    reader = make_reader(settings)
    return QueryEngine(
        index, embedder, settings.resolved_abstain_threshold(reader is not None), reader,
        settings.reader_passages, settings.reader_typed_rules,
    )  # fmt: skip
