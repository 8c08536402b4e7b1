"""The server's concurrency settings: request threads per worker, and worker processes."""

from __future__ import annotations

import gc
from pathlib import Path

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from citeqa.config import Settings
from eval.bench.http_load import ask_in_turn, served
from indexer.processing import DocumentProcessor
from service.main import create_app
from service.state import load_state


def test_start_up_freezes_its_objects_and_bounds_the_request_threads(
    seed_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> None:
    app_settings = settings.model_copy(update={"index_dir": seed_index_dir, "request_threads": 3})
    app = create_app(app_settings, load_state(app_settings, processor))
    gc.unfreeze()  # another test's app may have frozen objects already
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's way
        assert client.portal is not None  # the app's event loop, running while started
        tokens = client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
        )
        assert tokens == 3
        assert client.post("/v1/query", json={"question": "Who is Sheinbaum?"}).status_code == 200


@pytest.mark.slow
def test_two_workers_serve_the_index_the_cli_names(seed_index_dir: Path) -> None:
    with served(seed_index_dir, {"CITEQA_WORKERS": "2"}) as server:
        times = ask_in_turn(server.url, ["How many people has Mexico extradited?"], 4)
    assert len(times) == 4
