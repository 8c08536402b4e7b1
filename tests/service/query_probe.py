"""Run as a script by tests/service/test_query_process.py, in a fresh interpreter.

Loads the service over an index (its model exports already in CITEQA_MODEL_CACHE_DIR),
answers one warm-up query, then one query under a profiler that notes every first-party
module a function is called in, on every thread the query uses. Prints one JSON line: the
status and answer, the modules, and which of the heavy packages named on the command line
the process imported.

    python tests/service/query_probe.py INDEX_DIR torch,transformers
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

FIRST_PARTY = {"citeqa", "indexer", "service", "eval", "training"}
QUESTION = {"question": "How many people has Mexico extradited?"}


class ModuleTrace:
    """Collects the first-party modules whose functions are called while recording."""

    def __init__(self) -> None:
        self.recording = False
        self.modules: set[str] = set()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        del arg  # the profiler protocol's return value or C function, unused
        if self.recording and event == "call":
            name = frame.f_globals.get("__name__", "")
            if name.partition(".")[0] in FIRST_PARTY:
                self.modules.add(name)


def main(index_dir: Path, heavy: set[str]) -> dict[str, Any]:
    """Serve ``index_dir``, answer the question twice, the second time traced."""
    from fastapi.testclient import TestClient

    from citeqa.config import Settings
    from indexer.annotate import DeferredAnnotator
    from service.main import create_app
    from service.state import load_state

    # spaCy loads in the background after start-up, for documents written through the API,
    # and its thinc imports torch whenever torch is installed: the write path, not a query's.
    def not_loading(annotator: DeferredAnnotator) -> None:
        del annotator

    DeferredAnnotator.start_loading = not_loading  # type: ignore[assignment,method-assign]
    settings = Settings(_env_file=None, index_dir=index_dir)  # type: ignore[call-arg]
    app = create_app(settings, load_state(settings))
    trace = ModuleTrace()
    # Set before the client starts: its event-loop thread, the route's worker thread and
    # retrieval's thread pool all start later, so every one of them is profiled.
    threading.setprofile(trace)
    with TestClient(app) as client:
        client.post("/v1/query", json=QUESTION)  # warm-up: lazy loads are not the path
        sys.setprofile(trace)
        trace.recording = True
        response = client.post("/v1/query", json=QUESTION)
        trace.recording = False
        sys.setprofile(None)
    threading.setprofile(None)
    answer = response.json().get("answer") or {}
    return {
        "status": response.status_code,
        "answer": answer.get("text"),
        "modules": sorted(trace.modules),
        "imported": sorted({m.partition(".")[0] for m in sys.modules} & heavy),
    }


if __name__ == "__main__":
    report = main(Path(sys.argv[1]), set(sys.argv[2].split(",")))
    sys.stdout.write(json.dumps(report) + "\n")
