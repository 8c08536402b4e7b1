"""The cluster fixture and the helpers of citeqa.ray_cluster against a real two-node cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest

from citeqa.ray_cluster import actor_pool_size, replica_cpus
from tests.ray.conftest import (
    HEAD_RESOURCE,
    NODE_CPUS,
    WORKER_RESOURCE,
    TwoNodeCluster,
    free_port,
)

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@ray.remote(num_cpus=0.1)  # type: ignore[untyped-decorator]
def _node_id() -> str:
    return str(ray.get_runtime_context().get_node_id())


def test_a_task_runs_on_each_node(ray_cluster: TwoNodeCluster) -> None:
    on_head = _node_id.options(resources={HEAD_RESOURCE: 0.01}).remote()
    on_worker = _node_id.options(resources={WORKER_RESOURCE: 0.01}).remote()
    assert ray.get([on_head, on_worker]) == [ray_cluster.head_node_id, ray_cluster.worker_node_id]
    assert sum(node["Alive"] for node in ray.nodes()) == 2
    assert ray.cluster_resources()["CPU"] == 2 * NODE_CPUS


def test_a_driver_with_another_token_is_refused(ray_cluster: TwoNodeCluster) -> None:
    environment = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "not-the-token"}
    code = f"import ray; ray.init(address={ray_cluster.address!r})"
    refused = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0
    assert "auth" in refused.stderr.lower(), refused.stderr[-2000:]


def test_a_serve_deployment_with_fractional_cpus_answers_and_stops(
    ray_cluster: TwoNodeCluster,  # noqa: ARG001 - needs the cluster
) -> None:
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        # Two replicas in half a CPU: with Serve's default of 1 CPU each they would take
        # the whole cluster.
        cpus = replica_cpus(0.5, replicas=2)

        @serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": cpus})
        class Upper:
            def __call__(self, request: Any) -> str:
                return str(request.query_params["text"]).upper()

        serve.run(
            Upper.bind(),  # type: ignore[attr-defined]
            name="upper",
            route_prefix="/upper",
        )
        answer = httpx.get(f"http://127.0.0.1:{port}/upper", params={"text": "cited"}, timeout=30)
        assert (answer.status_code, answer.text) == (200, "CITED")
        assert ray.available_resources().get("CPU", 0) >= 2 * NODE_CPUS - 2 * cpus - 0.5
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
    assert not [a for a in ray.util.list_named_actors(all_namespaces=True) if "Serve" in str(a)]


class _Doubler:
    """A callable class, as the build's spaCy and embedding stages are: set up once per actor."""

    def __init__(self) -> None:
        self.factor = 2

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"id": batch["id"], "doubled": batch["id"] * self.factor}


def test_map_batches_with_an_actor_pool_leaves_cpu_for_reads(
    ray_cluster: TwoNodeCluster,  # noqa: ARG001 - needs the cluster
) -> None:
    import ray.data

    # Whole CPUs: two actors of 0.5 CPU, one per node, left no node with the 1 CPU a read
    # task asks for, and this pipeline never finished (see actor_pool_size).
    actors = actor_pool_size(cluster_cpus=2 * NODE_CPUS, cpus_per_actor=1, headroom_cpus=1)
    dataset = ray.data.range(40, override_num_blocks=4).map_batches(
        _Doubler, batch_size=8, num_cpus=1, compute=ray.data.ActorPoolStrategy(size=actors)
    )
    # A hung pipeline fails the test instead of the run; the fixture still stops the cluster.
    with ThreadPoolExecutor(max_workers=1) as pool:
        rows = pool.submit(dataset.take_all).result(timeout=120)
    assert actors == 1
    assert sorted((row["id"], row["doubled"]) for row in rows) == [(i, 2 * i) for i in range(40)]
