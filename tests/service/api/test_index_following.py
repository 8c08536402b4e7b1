"""A server follows CURRENT: writes by another writer (the CLI) are served without a restart,
and never break the generation it is serving."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citeqa.config import Settings
from citeqa.types import Document
from indexer.factory import make_writer
from indexer.manifest import Manifest
from indexer.processing import DocumentProcessor
from tests.conftest import API_KEY

QUESTION = {"question": "How many people has Mexico extradited?"}


def _note(number: int) -> Document:
    return Document(doc_id=f"cli-note-{number}", text=f"The port logged {number} ferries.\n")


def _open_files_under(folder: Path) -> list[str]:
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            links.append(target)
    return links


@pytest.fixture
def following_client(
    writable_index_dir: Path, settings: Settings, processor: DocumentProcessor
) -> Iterator[TestClient]:
    from service.main import create_app
    from service.state import load_state

    app_settings = settings.model_copy(
        update={"index_dir": writable_index_dir, "api_key": API_KEY, "index_check_interval_s": 0}
    )
    with TestClient(create_app(app_settings, load_state(app_settings, processor))) as client:
        yield client


def test_a_cli_write_beside_the_server_breaks_no_query_and_is_served(
    following_client: TestClient,
    writable_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
) -> None:
    cli = make_writer(settings, writable_index_dir, processor)  # another writer, as the CLI
    for number in range(3):
        cli.add_documents([_note(number)])
        assert following_client.post("/v1/query", json=QUESTION).status_code == 200
        served = following_client.get(f"/v1/documents/cli-note-{number}")
        assert served.status_code == 200, served.text
    ready = following_client.get("/readyz").json()
    assert ready["generation"] == 4 and ready["documents"] == 8


def test_a_replaced_generation_is_closed_once_its_queries_end(
    following_client: TestClient,
    writable_index_dir: Path,
    settings: Settings,
    processor: DocumentProcessor,
) -> None:
    generations = writable_index_dir / "generations"
    first = following_client.get("/readyz").json()["generation"]
    assert following_client.post("/v1/query", json=QUESTION).status_code == 200
    cli = make_writer(settings, writable_index_dir, processor)
    for number in range(3):
        cli.add_documents([_note(number)])
        assert following_client.post("/v1/query", json=QUESTION).status_code == 200
    live = generations / f"g{following_client.get('/readyz').json()['generation']:06d}"
    assert live.name != f"g{first:06d}"
    stale = [f for f in _open_files_under(generations) if not f.startswith(str(live))]
    assert stale == []
    named = {s.name for s in Manifest.read(live).segments}
    segments = writable_index_dir / "segments"
    unnamed = [
        f
        for f in _open_files_under(segments)
        if Path(f).relative_to(segments).parts[0] not in named
    ]
    assert unnamed == []
