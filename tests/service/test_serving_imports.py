"""Serving a built index answers queries without torch, transformers or the training code.

The index's ONNX exports already sit in the session's model cache (tests/conftest.py), so a
fresh process that loads the service and answers a query has no reason to import torch: a
serving module that imports it, or imports training/, fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What serving must not load: the training stack and the training package.
HEAVY = ("torch", "transformers", "sentence_transformers", "training")

# spaCy is loaded in the background after start-up, for documents written through the API,
# and spaCy's thinc imports torch whenever it is installed: that is the write path, not
# serving. The probe keeps it from starting so that what it sees is the query path's.
PROBE = """
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from citeqa.config import Settings
from indexer.annotate import DeferredAnnotator
from service.main import create_app
from service.state import load_state

DeferredAnnotator.start_loading = lambda self: None
settings = Settings(_env_file=None, index_dir=Path(sys.argv[1]))
with TestClient(create_app(settings, load_state(settings))) as client:
    response = client.post(
        "/v1/query", json={"question": "How many people has Mexico extradited?"}
    )
answer = response.json()["answer"]
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2].split(",")))
print(json.dumps({"status": response.status_code, "answer": answer and answer["text"],
                  "reader": settings.reader, "loaded": loaded}))
"""


@pytest.mark.slow
def test_answering_a_query_imports_no_torch(writable_index_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(writable_index_dir), ",".join(HEAVY)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["status"] == 200 and report["answer"]  # the reader really answered
    assert report["loaded"] == [], f"serving imported {report['loaded']}"
