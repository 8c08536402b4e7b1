"""Replaced generations let go of their files when their last reader is done, not when
the cycle collector happens to run.

The audit's reproduction: after 200 add/delete writes over the API, 190 open files and 191
mappings pointed to deleted files, until a forced gc.collect(). The cycle collector is off
during the writes here, so a handle that only it would free is counted."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY

pytestmark = pytest.mark.slow
WRITES = 100
MAX_DELETED_HANDLES = 10


def _deleted_under(folder: Path) -> tuple[int, int]:
    """Open files and memory mappings of files under ``folder`` that were deleted."""
    prefix = str(folder.resolve())
    files = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        files += target.startswith(prefix) and target.endswith(" (deleted)")
    with open("/proc/self/maps") as maps:
        mapped = {line.split(maxsplit=5)[-1] for line in maps if "(deleted)" in line}
    return files, sum(path.startswith(prefix) for path in mapped)


def test_add_delete_writes_leave_few_handles_to_deleted_files(
    writable_client: TestClient, writable_index_dir: Path
) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    question = {"question": "When did the pier reopen?"}
    gc.disable()
    try:
        for number in range(WRITES // 2):
            document = {"doc_id": f"note-{number}", "text": f"Pier {number} reopened on Monday.\n"}
            added = writable_client.post("/v1/documents", json=document, headers=headers)
            assert added.status_code == 200, added.text
            assert writable_client.post("/v1/query", json=question).status_code == 200
            deleted = writable_client.delete(f"/v1/documents/note-{number}", headers=headers)
            assert deleted.status_code == 200, deleted.text
        files, mappings = _deleted_under(writable_index_dir)
    finally:
        gc.enable()
    assert files <= MAX_DELETED_HANDLES, f"{files} open files point to deleted files"
    assert mappings <= MAX_DELETED_HANDLES, f"{mappings} mappings of deleted files"
    print(f"\nafter {WRITES} writes: {files} deleted files open, {mappings} mapped")
