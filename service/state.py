"""The heavy objects, loaded once: models, the live index, and the writer that replaces it.

Queries read ``engine`` (one reference, swapped atomically after each write), so they keep
working on the old generation while an update is being written.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from citeqa.config import Settings
from citeqa.types import Document
from indexer.annotate import DeferredAnnotator
from indexer.embedding import Embedder
from indexer.errors import IndexerError, IndexLockedError, IndexNotFoundError
from indexer.generations import current_name
from indexer.index import Index, load_index
from indexer.page_cache import PageCacheWarmer, WarmState, warm_page_cache
from indexer.processing import DocumentProcessor
from indexer.report import BuildReport
from indexer.writer import IndexWriter
from service.answering.engine import QueryEngine, make_engine
from service.errors import NotReadyError
from service.reading.errors import ReaderError
from service.reading.reader import SpanReader
from service.writes import WriteQueue

log = logging.getLogger("citeqa")

# Run once through the whole query path (embed, retrieve, read, aggregate, render) before a
# generation is served: the first call into each ONNX session, FAISS index and SQLite file
# pays for allocations and page faults that a user's first queries would otherwise pay.
WARM_UP_QUESTION = "How many people were reported killed, and when did it happen?"
WARM_UP_ARTICLE = (
    "Storm closes the port for two days\n\n"
    "Officials said on Monday that the port would stay closed until Wednesday. About 40 "
    "ships waited offshore, and three people were hurt when a crane fell in the wind.\n"
)


def make_reader(settings: Settings) -> SpanReader | None:
    """The span reader, or None for the model-free extractor.

    ``CITEQA_READER=none`` asks for the extractor. A reader the user named that cannot load
    is an error; the shipped one missing (a broken install) falls back with a warning.
    """
    if settings.reader == "none":
        return None
    try:
        reader = SpanReader(
            settings.resolved_reader_model(),
            threads=settings.reader_threads,
            max_length=settings.reader_window_tokens,
            backend=settings.reader_backend,
            cache_dir=settings.resolved_model_cache_dir(),
        )
    except ReaderError as error:
        if settings.reader_model:
            raise
        log.warning("no span reader (%s); answering with the model-free extractor", error)
        return None
    if reader.backend is not None:
        log.info("reader backend: %s (%s)", reader.backend.backend, reader.backend.reason)
    return reader


class ServedGeneration:
    """A loaded generation and the queries using it; closed once replaced and unused."""

    def __init__(self, engine: QueryEngine) -> None:
        self.engine = engine
        self.users = 0
        self.retired = False
        self.warmed = False

    def warm_up(self) -> None:
        """Answer one question through the whole query path; the generation is then warm."""
        from service.schemas import QueryResponse

        result = self.engine.answer(WARM_UP_QUESTION)
        QueryResponse.of(result, self.engine.index.documents)
        self.warmed = True

    def close(self) -> None:
        """Close the index: its SQLite handles and the lease that kept it on disk."""
        self.engine.index.close()  # its SQLite handles, and the lease that kept it on disk


@dataclass
class ServiceState:
    settings: Settings
    embedder: Embedder
    writer: IndexWriter
    reader: SpanReader | None = None

    def __post_init__(self) -> None:
        self._write_lock = threading.Lock()
        settings = self.settings
        self.writes = WriteQueue(settings.http_write_wait_s, settings.max_queued_writes)
        self._switch_lock = threading.Lock()  # one generation load at a time
        self._users_lock = threading.Lock()
        self._served: ServedGeneration | None = None
        self._checked_at = time.monotonic()
        self.page_cache: PageCacheWarmer | None = None

    @property
    def engine(self) -> QueryEngine | None:
        """The engine over the generation being served, or None before the first index."""
        served = self._served
        return served.engine if served else None

    @property
    def ready(self) -> bool:
        """Whether queries are served warm: an index is loaded and its warm-up query ran."""
        served = self._served
        return served is not None and served.warmed

    @property
    def page_cache_state(self) -> WarmState:
        """Whether the index's files are being read ahead, were, or are not."""
        return self.page_cache.state if self.page_cache is not None else "off"

    def warm_page_cache(self) -> None:
        """Read the served generation's files ahead, in the background (a server's start)."""
        engine = self.engine
        if engine is not None and self.settings.warm_page_cache:
            self.page_cache = warm_page_cache(s.folder for s in engine.index.segments)

    def reload(self, warm: bool = True) -> None:
        """Load the generation CURRENT names and serve it; the old one closes when unused.

        The new generation answers one warm-up query before it replaces the old one, so no
        user query is its first. ``warm=False`` skips that (it is then not ``ready``).
        """
        with self._switch_lock:
            self._load_current(warm)

    def _load_current(self, warm: bool = True) -> None:
        index = load_index(self.settings.index_dir, self.embedder)
        try:
            served = ServedGeneration(self._engine(index))
            if warm:
                served.warm_up()
        except BaseException:
            index.close()
            raise
        self._install(served)

    def _engine(self, index: Index) -> QueryEngine:
        """The query engine over ``index`` (service/distributed retrieves otherwise)."""
        return make_engine(self.settings, index, self.embedder, self.reader)

    def _install(self, served: ServedGeneration) -> None:
        with self._users_lock:
            old, self._served = self._served, served
            close_now = old is not None and old.users == 0
            if old is not None:
                old.retired = True
        if old is not None and close_now:
            old.close()

    def follow_current(self) -> None:
        """Switch to a generation another process wrote (cheap: one small file read, at
        most once per ``index_check_interval_s``). A failed load keeps the old one serving."""
        now = time.monotonic()
        if now - self._checked_at < self.settings.index_check_interval_s:
            return
        self._checked_at = now
        name = current_name(self.settings.index_dir)
        served = self._served
        if not name or (served is not None and served.engine.index.folder.name == name):
            return
        if not self._switch_lock.acquire(blocking=False):
            return  # another thread is loading it; keep answering from the old one
        try:
            self._load_current()
        except (IndexerError, OSError) as error:
            log.warning("keeping %s: cannot load %s (%s)", self._served_name(), name, error)
        finally:
            self._switch_lock.release()

    def _served_name(self) -> str:
        served = self._served
        return served.engine.index.folder.name if served else "(none)"

    @contextmanager
    def serving(self) -> Iterator[QueryEngine]:
        """The engine for one request; its generation stays open until the request ends.

        Raises:
            NotReadyError: no index is loaded.
        """
        self.follow_current()
        with self._users_lock:
            served = self._served
            if served is None:
                raise NotReadyError(
                    f"no index loaded from {self.settings.index_dir}; build one with "
                    "`citeqa index build --source seeds` or POST /v1/documents"
                )
            served.users += 1
        try:
            yield served.engine
        finally:
            with self._users_lock:
                served.users -= 1
                close_now = served.retired and served.users == 0
            if close_now:
                served.close()

    def add_documents(
        self, documents: list[Document], lock_timeout_s: float | None = None
    ) -> BuildReport:
        """Add or replace documents in a new generation, then serve it.

        ``lock_timeout_s`` bounds the wait for another process's writer (default: the
        writer's own, CITEQA_WRITER_LOCK_TIMEOUT_S).
        """
        with self._write_lock:
            report = self.writer.add_documents(documents, lock_timeout_s=lock_timeout_s)
            if report.changed or self.engine is None:
                self.reload()
            return report

    def delete_documents(
        self, doc_ids: list[str], lock_timeout_s: float | None = None
    ) -> BuildReport:
        """Delete documents in a new generation, then serve it (``lock_timeout_s`` as in
        :meth:`add_documents`)."""
        with self._write_lock:
            report = self.writer.delete(doc_ids, lock_timeout_s=lock_timeout_s)
            self.reload()
            return report


def _prepare_queries(embedder: Embedder, settings: Settings) -> None:
    if settings.query_encoder == "onnx":
        embedder.use_onnx_queries(settings.resolved_model_cache_dir())


def _set_threads(settings: Settings) -> None:
    import faiss

    # The ONNX backends serve without torch (the torch reader sets its own threads), and
    # importing it only to set its threads cost seconds of a server's start (eval/RESULTS.md).
    if settings.embed_backend == "torch" or "torch" in sys.modules:
        import torch

        torch.set_num_threads(settings.torch_threads)
    # A query searches one vector per segment: OpenMP gains nothing there, and on a busy
    # machine its spinning threads cost more than the search (eval/RESULTS.md).
    faiss.omp_set_num_threads(1)


def load_state(
    settings: Settings,
    processor: DocumentProcessor | None = None,
    make_state: Callable[..., ServiceState] = ServiceState,
) -> ServiceState:
    """Load models and the current index; a missing index leaves the service not ready.

    ``make_state`` makes the state from (settings, embedder, writer, reader=...): a
    subclass that retrieves otherwise (service/distributed) loads like this one.
    """
    from indexer.factory import make_embedder, make_processor, make_writer

    _set_threads(settings)
    if processor is None:
        # A threaded build sets torch to one thread process-wide while it runs; under a
        # server that would slow every query served meanwhile, so API writes go sequentially.
        processor = make_processor(settings, make_embedder(settings), workers=1, defer_spacy=True)
    spacy_loading = _start_spacy(processor, settings)
    embedder = processor.embedder
    _prepare_queries(embedder, settings)
    writer = make_writer(settings, processor=processor)
    reader = make_reader(settings)
    if reader is not None:
        started = time.perf_counter()
        if shapes := reader.warm_up(settings.reader_passages):
            log.info(
                "reader: %d input shapes warmed in %.2f s", shapes, time.perf_counter() - started
            )
    state = make_state(settings, embedder, writer, reader=reader)
    try:
        writer.collect_garbage(timeout_s=0)
    except IndexLockedError:
        pass  # a writer is at work; it collects garbage itself
    except OSError as error:
        # Tidying is optional: a server on a full or read-only disk must still serve reads.
        log.warning("not collecting garbage in %s at start: %s", settings.index_dir, error)
    if spacy_loading is not None:
        spacy_loading.result()  # before the warm-up and ready, so it never slows a query
        _warm_up_writes(processor)
    try:
        state.reload()
    except IndexNotFoundError as error:
        log.warning("starting without an index: %s", error)
    state.warm_page_cache()
    return state


def _warm_up_writes(processor: DocumentProcessor) -> None:
    """Clean, annotate, chunk and embed one short article, writing nothing.

    The first document a process handles pays for its first spaCy call and its first
    document batch through the encoder, well above a later write's processing
    (eval/RESULTS.md, issue 27). A server that takes writes pays it here, before ready, not
    in its first POST.
    """
    processor.process([Document(doc_id="citeqa-warm-up", text=WARM_UP_ARTICLE)])


def _start_spacy(processor: DocumentProcessor, settings: Settings) -> Future[object] | None:
    """Start loading spaCy beside the other models when this server can write; else never.

    Only API writes need spaCy, and they need ``CITEQA_API_KEY``. Loaded in the background
    after ready, it took the cores from the first queries (issue 27), so it loads before
    ready, overlapping the models and the index; without a key it never loads (a write is
    refused before it would need it).
    """
    annotator = processor.annotator
    if not isinstance(annotator, DeferredAnnotator) or not settings.api_key:
        return None
    return cast("Future[object]", annotator.start_loading())


def load_engine(settings: Settings) -> QueryEngine:
    """Models and index for one-off use (the CLI's `ask`, the eval harness).

    Raises:
        IndexNotFoundError: ``settings.index_dir`` holds no index; said before any model
            loads (a first run exports one, which takes a while).
        IndexCorruptError: its manifest is missing or damaged.
    """
    from indexer.factory import make_embedder
    from indexer.generations import current_generation
    from indexer.manifest import Manifest

    Manifest.read(current_generation(settings.index_dir))
    _set_threads(settings)
    embedder = make_embedder(settings)
    _prepare_queries(embedder, settings)
    index = load_index(settings.index_dir, embedder)
    return make_engine(settings, index, embedder, make_reader(settings))
