"""Ready means warm: /readyz says 200 only once a query has run through the whole path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citeqa.config import Settings
from indexer.annotate import DeferredAnnotator
from indexer.embedding import Embedder
from indexer.factory import make_processor
from indexer.processing import DocumentProcessor
from service.main import create_app
from service.reading.reader import SpanReader
from service.state import ServiceState, load_state
from tests.conftest import API_KEY


def _deferred_processor(settings: Settings, embedder: Embedder) -> DocumentProcessor:
    """A server's processor (spaCy deferred) around the session's embedder."""
    return make_processor(settings, embedder, workers=1, defer_spacy=True)


def test_readyz_is_503_until_the_warm_up_query_ran(
    seed_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    app_settings = settings.model_copy(update={"index_dir": seed_index_dir})
    state = load_state(app_settings, processor)
    state.reload(warm=False)  # the index is served, but nothing has run through it yet
    with TestClient(create_app(app_settings, state)) as client:
        cold = client.get("/readyz")
        assert cold.status_code == 503
        assert cold.json()["ready"] is False
        assert cold.json()["documents"] == 5  # loaded, only not warm
        state.reload()
        warm = client.get("/readyz")
        assert warm.status_code == 200
        assert warm.json()["ready"] is True


def test_the_warm_up_reads_before_a_generation_is_served(
    seed_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = SpanReader.read
    states: list[ServiceState] = []
    served_while_reading: list[object] = []  # the engine being served at each read

    def spying_read(reader: SpanReader, *args: Any, **kwargs: Any) -> Any:
        served_while_reading.append(states[0].engine if states else None)
        return read(reader, *args, **kwargs)

    monkeypatch.setattr(SpanReader, "read", spying_read)
    states.append(load_state(settings.model_copy(update={"index_dir": seed_index_dir}), processor))
    state = states[0]
    assert state.ready
    assert served_while_reading == [None] * len(served_while_reading)
    assert served_while_reading, "start-up answered no question through the reader"

    served_while_reading.clear()
    before = state.engine
    state.reload()
    # The new generation was read while the old one still answered queries.
    assert served_while_reading and all(engine is before for engine in served_while_reading)
    assert state.engine is not before and state.ready


@pytest.mark.parametrize(("api_key", "loads_spacy"), [(API_KEY, True), ("", False)])
def test_spacy_loads_before_ready_only_where_writes_are_allowed(
    seed_index_dir: Path,
    settings: Settings,
    embedder: Embedder,
    api_key: str,
    loads_spacy: bool,
) -> None:
    processor = _deferred_processor(settings, embedder)
    annotator = processor.annotator
    assert isinstance(annotator, DeferredAnnotator)
    app_settings = settings.model_copy(update={"index_dir": seed_index_dir, "api_key": api_key})
    processed: list[list[str]] = []
    process = processor.process

    def spying_process(documents: Any, show_progress: bool = False) -> Any:
        processed.append([document.doc_id for document in documents])
        return process(documents, show_progress)

    processor.process = spying_process  # type: ignore[method-assign]
    state = load_state(app_settings, processor)
    assert state.ready
    # A server that takes writes has run one article through the write path before ready.
    assert processed == ([["citeqa-warm-up"]] if loads_spacy else [])
    loading = annotator._loading
    if loads_spacy:
        assert loading is not None and loading.done()  # done before ready, not after
    else:
        assert loading is None  # a server that refuses writes never needs spaCy


@pytest.mark.parametrize("enabled", [True, False])
def test_readyz_says_whether_the_index_files_were_read_ahead(
    seed_index_dir: Path, settings: Settings, processor: DocumentProcessor, enabled: bool
) -> None:
    app_settings = settings.model_copy(
        update={"index_dir": seed_index_dir, "warm_page_cache": enabled}
    )
    state = load_state(app_settings, processor)
    with TestClient(create_app(app_settings, state)) as client:
        if not enabled:
            assert state.page_cache is None
            assert client.get("/readyz").json()["page_cache"] == "off"
            return
        assert state.page_cache is not None and state.page_cache.wait(60)
        assert client.get("/readyz").json()["page_cache"] == "warm"
        # Every file a query reads was read once, the FAISS indexes excepted.
        assert state.page_cache.bytes_read > 0
