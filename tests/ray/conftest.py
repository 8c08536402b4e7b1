"""A real Ray cluster of two nodes on this machine, started once per test module.

Both nodes run here (``ray.cluster_utils.Cluster``: a head and a worker, each its own
raylet and object store), with one CPU and a 100 MiB object store each, so that tests can
place work on a chosen node through the custom resources ``citeqa-head`` and
``citeqa-worker``. Token auth is set explicitly (``RAY_AUTH_MODE=token`` and a fresh
``RAY_AUTH_TOKEN``, both inherited by every Ray process), and ``RAY_TMPDIR`` points at a
folder of this fixture, so sessions, sockets and the "current cluster" file never meet
another cluster on the same machine. Measured on this 2-core machine: 4-6 s to start,
about 1.5-2 s to stop (docs/scale-out.md).

Every test here is `slow`; without the ray extra the fixture skips them, saying why.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from citeqa.ray_cluster import (
    RayClusterConfig,
    apply_token_auth,
    connect,
    disconnect,
    new_auth_token,
    token_auth_environment,
)

NODE_CPUS = 1
# Ray's minimum is 75 MiB; its default, 30% of RAM, would be several GB per node here.
NODE_OBJECT_STORE_BYTES = 100 * 1024 * 1024
HEAD_RESOURCE = "citeqa-head"
WORKER_RESOURCE = "citeqa-worker"


@dataclass(frozen=True)
class TwoNodeCluster:
    """A running cluster the test process is connected to."""

    address: str
    auth_token: str
    head_node_id: str
    worker_node_id: str
    start_seconds: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[TwoNodeCluster]:
    """Start a head and a worker node with token auth, connect, and stop both afterwards."""
    pytest.importorskip("ray", reason=f"the ray extra is not installed ({sys.executable})")
    from ray.cluster_utils import Cluster

    # Short: Ray's socket paths live under it and must stay below 108 characters.
    temp_dir = tempfile.mkdtemp(prefix="cqray-", dir="/tmp")
    token = new_auth_token()
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in token_auth_environment(token).items():
            patch.setenv(name, value)  # restored after the module
        apply_token_auth(token)  # and Ray's cached config refreshed: ray is already imported
        patch.setenv("RAY_TMPDIR", temp_dir)
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        # Nodes are added inside `try`, so a start that fails half-way is still cleaned up.
        cluster = Cluster()
        start_seconds = float("nan")  # until both nodes answer
        try:
            cluster.add_node(
                num_cpus=NODE_CPUS,
                object_store_memory=NODE_OBJECT_STORE_BYTES,
                include_dashboard=False,
                # Not 6379: another cluster on this machine may hold it.
                gcs_server_port=free_port(),
                resources={HEAD_RESOURCE: 1},
            )
            worker = cluster.add_node(
                num_cpus=NODE_CPUS,
                object_store_memory=NODE_OBJECT_STORE_BYTES,
                resources={WORKER_RESOURCE: 1},
            )
            cluster.wait_for_nodes()
            head = cluster.head_node
            assert head is not None  # the first node added
            address = connect(RayClusterConfig(address=cluster.address, auth_token=token))
            start_seconds = time.perf_counter() - started
            yield TwoNodeCluster(
                address=address,
                auth_token=token,
                head_node_id=head.node_id,
                worker_node_id=worker.node_id,
                start_seconds=start_seconds,
            )
        finally:
            stopping = time.perf_counter()
            disconnect()
            cluster.shutdown()  # type: ignore[no-untyped-call]
            shutil.rmtree(temp_dir, ignore_errors=True)
            # Seen with `pytest -s`: the figures docs/scale-out.md quotes.
            print(
                f"\nray_cluster: two nodes started in {start_seconds:.1f} s, "
                f"stopped in {time.perf_counter() - stopping:.1f} s",
                file=sys.stderr,
            )
