"""Shared fixtures: one model load and one seed index per test session."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from citeqa.config import Settings
from indexer.embedding import Embedder
from indexer.factory import make_processor, make_writer
from indexer.generations import current_name
from indexer.index import Index, load_index
from indexer.processing import DocumentProcessor
from service.reading.reader import SpanReader

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
API_KEY = "test-key-123"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder of ONNX exports for the session and every process it starts.

    Without it each test's index would get its own model cache beside it, and each
    `citeqa` subprocess would export and quantise the embedding model again, and derive
    the int8 reader again (a reader without a cache_dir uses this folder too).
    """
    folder = tmp_path_factory.mktemp("model-cache")
    before = os.environ.get("CITEQA_MODEL_CACHE_DIR")
    os.environ["CITEQA_MODEL_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("CITEQA_MODEL_CACHE_DIR", None)
    else:
        os.environ["CITEQA_MODEL_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def settings(model_cache: Path) -> Settings:  # noqa: ARG001 - needs the cache set first
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def processor(settings: Settings) -> DocumentProcessor:
    return make_processor(settings)


@pytest.fixture(scope="session")
def embedder(processor: DocumentProcessor) -> Embedder:
    return processor.embedder


@pytest.fixture(scope="session")
def span_reader(settings: Settings) -> SpanReader:
    """The shipped reader, loaded once (as the service loads it); int8 derived once."""
    return SpanReader(
        settings.resolved_reader_model(),
        threads=settings.reader_threads,
        max_length=settings.reader_window_tokens,
        cache_dir=settings.resolved_model_cache_dir(),
    )


@pytest.fixture(scope="session")
def seed_index_dir(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, processor: DocumentProcessor
) -> Path:
    """An index of seeds/ built once; tests that write must copy it first."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    make_writer(settings, index_dir, processor).build([SEEDS])
    return index_dir


@pytest.fixture(scope="session")
def seed_index(seed_index_dir: Path, embedder: Embedder) -> Index:
    return load_index(seed_index_dir, embedder)


@pytest.fixture
def writable_index_dir(seed_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index_dir, target)
    return target


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY


def _app(index_dir: Path, settings: Settings, processor: DocumentProcessor) -> FastAPI:
    from service.main import create_app
    from service.state import load_state

    app_settings = settings.model_copy(update={"index_dir": index_dir, "api_key": API_KEY})
    return create_app(app_settings, load_state(app_settings, processor))


@pytest.fixture(scope="session")
def shared_client(
    tmp_path_factory: pytest.TempPathFactory,
    seed_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
) -> Iterator[tuple[TestClient, Path]]:
    """One app started once per session over its own copy of the seed index, and that copy."""
    from fastapi.testclient import TestClient

    index_dir = tmp_path_factory.mktemp("shared-client") / "index"
    shutil.copytree(seed_index_dir, index_dir)
    with TestClient(_app(index_dir, settings, processor)) as test_client:
        yield test_client, index_dir


@pytest.fixture
def client(shared_client: tuple[TestClient, Path]) -> Iterator[TestClient]:
    """A TestClient (start-up has run) shared by every test that only reads.

    Loading the models and the index once per session, not once per test, is most of the
    API tests' time. A test that adds or deletes documents must use ``writable_client``:
    one that publishes a generation here fails, so it cannot leak into the tests after it.
    """
    test_client, index_dir = shared_client
    before = current_name(index_dir)
    yield test_client
    assert current_name(index_dir) == before, "this test wrote through the shared `client`"


@pytest.fixture
def writable_client(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> Iterator[TestClient]:
    """A TestClient of its own (start-up runs) over a private copy of the seed index."""
    from fastapi.testclient import TestClient

    with TestClient(_app(writable_index_dir, settings, processor)) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server_url(
    tmp_path_factory: pytest.TempPathFactory,
    seed_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
) -> Iterator[str]:
    """The real app under uvicorn on 127.0.0.1, for browser and OpenAI-client tests."""
    import uvicorn

    index_dir = tmp_path_factory.mktemp("live") / "index"
    shutil.copytree(seed_index_dir, index_dir)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            _app(index_dir, settings, processor), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
