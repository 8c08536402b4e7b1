"""`serve --engine ray`: three shard deployments answer exactly as the single process.

The seeds and the first 200 paragraphs of the SQuADShifts NYT dev set (read from
../shared at test time) are built by the local `--shards 3` path, then served twice: by
the single-process app (TestClient) and by Ray Serve on the two-node test cluster plus a
third node that holds shard 2's replicas, so that the shard can lose one replica and then
all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citeqa.config import Settings
from indexer.factory import make_writer
from indexer.processing import DocumentProcessor
from tests.ray.conftest import TwoNodeCluster, free_port

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

REPO = Path(__file__).resolve().parents[2]
NYT_DEV = REPO.parent / "shared/benchmarks/squadshifts-nyt/dev.json"
PARAGRAPHS = 200
NYT_QUESTIONS = 15
SHARDS = 3
# Shard 2's replicas need this resource, which only the third node offers.
SHARD_NODE = "citeqa-shard-node"
API_KEY = "ray-serve-key"


@pytest.fixture(scope="module")
def app_settings(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, processor: DocumentProcessor
) -> Settings:
    """An index of the seeds and 200 NYT paragraphs in three shards, and its settings."""
    if not NYT_DEV.exists():
        pytest.skip(f"{NYT_DEV} is missing")
    from eval.datasets.squad import load_squad

    index_dir = tmp_path_factory.mktemp("ray-serve") / "index"
    app_settings = settings.model_copy(
        update={
            "index_dir": index_dir,
            "shards": SHARDS,
            "api_key": API_KEY,
            "index_check_interval_s": 0.0,
            "ray_shard_timeout_s": 5.0,
        }
    )
    writer = make_writer(app_settings, index_dir, processor)
    writer.build([REPO / "seeds"])
    writer.add_documents(list(load_squad(NYT_DEV).documents[:PARAGRAPHS]))
    return app_settings


@pytest.fixture(scope="module")
def questions(app_settings: Settings) -> list[str]:  # noqa: ARG001 - after the build
    from eval.datasets.squad import load_squad

    gold = (REPO / "eval/gold/seeds.jsonl").read_text().splitlines()
    nyt = load_squad(NYT_DEV)
    served = {d.doc_id for d in nyt.documents[:PARAGRAPHS]}
    asked = [q.question for q in nyt.questions if q.doc_ids[0] in served]
    return [json.loads(line)["question"] for line in gold] + asked[:: len(asked) // NYT_QUESTIONS]


def _answer(response: Any) -> dict[str, Any]:  # an httpx or a TestClient response
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body.pop("timings_ms")
    return body


@pytest.fixture(scope="module")
def local_answers(
    app_settings: Settings, processor: DocumentProcessor, questions: list[str]
) -> list[dict[str, Any]]:
    """The single-process service's answers over the same index."""
    from fastapi.testclient import TestClient

    from service.main import create_app
    from service.state import load_state

    app = create_app(app_settings, load_state(app_settings, processor))
    with TestClient(app) as client:
        return [_answer(client.post("/v1/query", json={"question": q})) for q in questions]


@pytest.fixture(scope="module")
def shard_node(ray_cluster: TwoNodeCluster) -> Iterator[subprocess.Popen[bytes]]:
    """A third node for shard 2's replicas; stopping it loses them all."""
    command = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--block",
        f"--address={ray_cluster.address}",
        "--num-cpus=1",
        "--object-store-memory=80000000",
        f"--resources={json.dumps({SHARD_NODE: 1})}",
    ]
    # Inherits the cluster's token and RAY_TMPDIR from the fixture's environment.
    node = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while sum(n["Alive"] for n in ray.nodes()) < 3:
            assert time.monotonic() < deadline, "the third node did not join"
            time.sleep(0.5)
        yield node
    finally:
        _stop(node)


def _stop(node: subprocess.Popen[bytes]) -> None:
    if node.poll() is None:
        node.send_signal(signal.SIGTERM)  # `ray start --block` stops its raylet and workers
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()


@pytest.fixture(scope="module")
def ray_url(
    app_settings: Settings,
    shard_node: subprocess.Popen[bytes],  # noqa: ARG001 - shard 2 lives there
    local_answers: list[dict[str, Any]],  # noqa: ARG001 - asked first: the CPUs are few
) -> Iterator[str]:
    from ray import serve

    from service.distributed.app import APP_NAME, ServeLayout, build_application

    port = free_port()
    # One HTTP proxy, on the head: a proxy on the third node would share the port
    # (SO_REUSEPORT) and drop the connections it holds when that node is stopped.
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    try:
        layout = ServeLayout(shards=SHARDS, replicas=2, cpus=1.0)
        application = build_application(app_settings, layout, {2: {SHARD_NODE: 0.01}})
        serve.run(application, name=APP_NAME, route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]


def _ask(url: str, question: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/query", json={"question": question}, timeout=60)


def test_ray_answers_as_the_single_process(
    ray_url: str, questions: list[str], local_answers: list[dict[str, Any]]
) -> None:
    assert len(questions) > 60
    for question, want in zip(questions, local_answers, strict=True):
        # Answer, alternatives, cited spans and passages in order, every field.
        assert _answer(_ask(ray_url, question)) == want, question
    assert sum(a["answer"] is not None for a in local_answers) > 40
    served = httpx.get(f"{ray_url}/openapi.json", timeout=30).json()
    from service.main import create_app

    assert served == create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]


def test_a_new_generation_reaches_the_shards_without_a_restart(
    ray_url: str, app_settings: Settings, processor: DocumentProcessor
) -> None:
    before = httpx.get(f"{ray_url}/readyz", timeout=30).json()["generation"]
    text = "The Zorblatt Bridge over the Kessel river opened on Tuesday after 14 years of work."
    from citeqa.types import Document

    report = make_writer(app_settings, app_settings.index_dir, processor).add_documents(
        [Document(doc_id="zorblatt", text=text, title="Zorblatt Bridge")]
    )
    assert report.generation > before
    answer = _answer(_ask(ray_url, "How many years of work did the Zorblatt Bridge take?"))
    assert answer["passages"][0]["doc_id"] == "zorblatt"
    assert httpx.get(f"{ray_url}/readyz", timeout=30).json()["generation"] == report.generation


def _replica_pids(shard: int) -> list[int]:
    """The process ids of shard ``shard``'s live replicas."""
    names = ray.util.list_named_actors(all_namespaces=True)
    pids = []
    for entry in names:
        if f"citeqa-shard-{shard}#" in entry["name"]:
            actor = ray.get_actor(entry["name"], namespace=entry["namespace"])
            pids.append(ray.get(actor.__ray_call__.remote(lambda _: os.getpid()), timeout=30))
    return pids


def test_killing_one_replica_of_a_shard_loses_no_query(ray_url: str, questions: list[str]) -> None:
    pids = _replica_pids(2)
    assert len(pids) == 2
    want = _answer(_ask(ray_url, questions[0]))
    os.kill(pids[0], signal.SIGKILL)
    for question in questions[:3]:
        got = _answer(_ask(ray_url, question))
        if question == questions[0]:
            assert got == want


def _parents() -> dict[int, int]:
    """Every process's parent, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
        except OSError:
            continue  # gone meanwhile
        parents[int(pid)] = int(rest.rsplit(") ", 1)[1].split()[1])
    return parents


def _kill_node(node: subprocess.Popen[bytes]) -> None:
    """The node dies as a machine would: its raylet and every worker at once (actor calls
    go from worker to worker, so a worker outlives its raylet for a moment)."""
    parents = _parents()
    tree, grown = {node.pid}, True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    for pid in tree - {node.pid}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.wait(timeout=60)  # `ray start --block` sees its raylet gone and exits


def test_a_shard_without_a_live_replica_fails_with_503_naming_it(
    ray_url: str,
    shard_node: subprocess.Popen[bytes],
    questions: list[str],
    app_settings: Settings,
) -> None:
    _kill_node(shard_node)  # both replicas of shard 2 go; no other node may run them
    started = time.monotonic()
    response = _ask(ray_url, questions[0])
    assert response.status_code == 503, response.text
    assert "shard 2" in response.text
    # Within the shard timeout, twice (a retry after a dead replica), and some slack.
    assert time.monotonic() - started < 2 * app_settings.ray_shard_timeout_s + 10
