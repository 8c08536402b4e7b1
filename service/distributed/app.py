"""`citeqa serve --engine ray`: an ingress and one Serve deployment per shard.

::

    HTTP -> citeqa-ingress (the FastAPI app: encode, read, aggregate, cite)
              |-- citeqa-shard-0 (replicas of ShardReplica)
              |-- citeqa-shard-1
              ...

The ingress is the single-process app (:func:`service.main.create_app`) over a
:class:`~service.distributed.state.ShardedServiceState`, so the HTTP API and OpenAPI are
the same. Its state loads in the constructor, not in a FastAPI lifespan: Serve builds
the app after the constructor (``__serve_build_asgi_app__``), and the app's lifespan is
then given that state. Every query asks every shard (once for its top lists and the
re-scoring of its likeliest candidates, and again when the merge picked a candidate it
did not re-score), so ``max_ongoing_requests`` is raised from Serve's default of 5,
and replicas take a fraction of a CPU each (:func:`citeqa.ray_cluster.replica_cpus`).

Only this path imports Ray.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from citeqa.config import Settings
from citeqa.ray_cluster import replica_cpus, require_ray
from service.distributed.shard_replica import ShardReplica
from service.retrieval.shard import (
    ScoredCandidates,
    ScoreRequest,
    SearchRequest,
    ShardInfo,
    ShardLists,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from service.distributed.state import ShardedServiceState

APP_NAME = "citeqa"
INGRESS_NAME = "citeqa-ingress"
# Requests a replica takes at once. A shard sees one or two per query in flight; Serve's
# default of 5 would queue the sixth concurrent query at every shard.
MAX_ONGOING_REQUESTS = 64


def shard_deployment_name(shard: int) -> str:
    """The Serve deployment of shard ``shard``."""
    return f"citeqa-shard-{shard}"


@dataclass(frozen=True)
class ServeLayout:
    """How many deployments and replicas, and the CPUs they share.

    Attributes:
        shards: Shard deployments, one per shard of the index.
        replicas: Replicas of each shard deployment.
        cpus: CPUs all replicas (the ingress's included) reserve together.
        ingress_replicas: Replicas of the ingress (each loads the models).
    """

    shards: int
    replicas: int
    cpus: float
    ingress_replicas: int = 1

    def __post_init__(self) -> None:
        if self.shards < 1 or self.replicas < 1 or self.ingress_replicas < 1:
            raise ValueError("shards, replicas and ingress_replicas must be at least 1")

    @property
    def replica_cpus(self) -> float:
        """Each replica's share of ``cpus``."""
        return replica_cpus(self.cpus, self.shards * self.replicas + self.ingress_replicas)


class Ingress:
    """The ingress deployment's body: the service state, then the app over it."""

    # Serve awaits an async constructor (serve.ingress), which mypy does not know of.
    async def __init__(self, settings: Settings, shard_handles: list[Any]) -> None:  # type: ignore[misc]
        # In a thread: loading asks every shard which generation it serves, and Serve
        # refuses blocking calls on the replica's event loop.
        self.state = await asyncio.to_thread(load_sharded_state, settings, shard_handles)

    def __serve_build_asgi_app__(self) -> FastAPI:
        from service.main import create_app

        return create_app(self.state.settings, self.state)


def load_sharded_state(settings: Settings, shard_handles: list[Any]) -> ShardedServiceState:
    """Models and the current generation, answering through ``shard_handles``."""
    from functools import partial

    from service.distributed.state import ShardedServiceState
    from service.state import load_state

    make = partial(
        ShardedServiceState,
        shard_handles=shard_handles,
        shard_timeout_s=settings.ray_shard_timeout_s,
    )
    return cast(ShardedServiceState, load_state(settings, make_state=make))  # made by `make`


class ShardDeployment:
    """A shard deployment's body: a :class:`ShardReplica` behind ``async`` methods.

    Serve runs a sync method in a thread pool, one more thread hop per call; an ``async``
    one runs on the replica's user-code event loop. The work is CPU-bound under the GIL
    either way, so requests to one replica run in turn as before, and health checks stay
    on Serve's own loop. Measured by eval/bench/fan_out.py (docs/scale-out.md).
    """

    def __init__(self, index_dir: str, shard: int) -> None:
        self.replica = ShardReplica(index_dir, shard)

    async def describe(self, generation: int) -> ShardInfo:
        """See :meth:`ShardReplica.describe`."""
        return self.replica.describe(generation)

    async def search(self, request: SearchRequest) -> ShardLists:
        """See :meth:`ShardReplica.search`."""
        return self.replica.search(request)

    async def score(self, request: ScoreRequest) -> ScoredCandidates:
        """See :meth:`ShardReplica.score`."""
        return self.replica.score(request)

    async def document_text(self, generation: int, doc_id: str) -> str:
        """See :meth:`ShardReplica.document_text`."""
        return self.replica.document_text(generation, doc_id)


def shard_deployment(
    shard: int, replicas: int, cpus: float, resources: Mapping[str, float] | None = None
) -> Any:
    """Shard ``shard``'s Serve deployment: ``replicas`` of :class:`ShardReplica`, each
    reserving ``cpus`` and the custom ``resources`` (to place it on the nodes that offer
    them, such as those holding the shard's segments)."""
    require_ray()
    from ray import serve

    return serve.deployment(
        name=shard_deployment_name(shard),
        num_replicas=replicas,
        ray_actor_options={"num_cpus": cpus, "resources": dict(resources or {})},
        max_ongoing_requests=MAX_ONGOING_REQUESTS,
        # A log line per call costs the replica a write, and the driver its forwarding.
        logging_config={"enable_access_log": False},
    )(ShardDeployment)


def build_application(
    settings: Settings,
    layout: ServeLayout,
    shard_resources: Mapping[int, Mapping[str, float]] | None = None,
) -> Any:
    """The Serve application: the ingress bound to a deployment per shard.

    ``shard_resources`` gives a shard's replicas custom Ray resources (see
    :func:`shard_deployment`).

    Example (needs a Ray cluster, so not run as a doctest)::

        app = build_application(settings, ServeLayout(3, 2, cpus=1.0))
        serve.run(app, name="citeqa", route_prefix="/")
    """
    require_ray()
    from ray import serve

    cpus = layout.replica_cpus
    placed = shard_resources or {}
    shards = [
        shard_deployment(shard, layout.replicas, cpus, placed.get(shard)).bind(
            str(settings.index_dir), shard
        )
        for shard in range(layout.shards)
    ]
    ingress = serve.deployment(
        name=INGRESS_NAME,
        num_replicas=layout.ingress_replicas,
        ray_actor_options={"num_cpus": cpus},
        max_ongoing_requests=MAX_ONGOING_REQUESTS,
    )(serve.ingress()(Ingress))
    return ingress.bind(settings, shards)


def index_shards(settings: Settings) -> int:
    """The shard count of the generation CURRENT names."""
    from indexer.generations import current_generation
    from indexer.manifest import Manifest

    return Manifest.read(current_generation(settings.index_dir)).shards


def serving_settings(settings: Settings, shards: int | None) -> Settings:
    """``settings`` with the index's shard count, which ``shards`` (if given) must equal.

    The ingress writes through the API (POST and DELETE /v1/documents) with
    ``settings.shards``, and the writer refuses any count other than the index's: pinning
    it here keeps a CITEQA_SHARDS set for another index from failing every write with 503.

    Raises:
        IndexMismatchError: ``shards`` is not the index's shard count.
    """
    from indexer.errors import IndexMismatchError

    found = index_shards(settings)
    if shards is not None and shards != found:
        raise IndexMismatchError(
            f"{settings.index_dir} has {found} shards, not {shards}: serve with --shards "
            f"{found}, or rebuild with `citeqa index build --shards {shards}`"
        )
    return settings.model_copy(update={"shards": found})


def serve_on_ray(settings: Settings, shards: int | None, host: str, port: int) -> None:
    """Join (or start) the cluster, deploy the application, and serve until interrupted.

    Raises:
        IndexMismatchError: ``shards`` is not the index's shard count.
    """
    settings = serving_settings(settings, shards)
    from citeqa.ray_cluster import RayClusterConfig, connect, disconnect

    connect(RayClusterConfig.from_settings(settings))
    from ray import serve

    layout = ServeLayout(
        index_shards(settings), settings.ray_shard_replicas, settings.ray_serve_cpus
    )
    try:
        # One HTTP proxy, on the head: the service's address is the head's (compose publishes
        # only its port). Serve's default puts one on every node, each a process of its own
        # (its memory: eval/RESULTS.md), and on
        # one host they share the port, where a stopped node's proxy dropped a connection.
        serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": port})
        serve.run(build_application(settings, layout), name=APP_NAME, route_prefix="/")
        _wait_forever()
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        disconnect()


def _wait_forever() -> None:
    import time

    while True:  # until Ctrl-C; Serve's proxy answers from its own process
        time.sleep(3600)
