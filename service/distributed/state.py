"""The ingress's state: the single-process service's, answering through the shards.

:class:`ShardedServiceState` is :class:`~service.state.ServiceState` with one change: the
engine of each generation retrieves through a
:class:`~service.retrieval.retriever.Retriever` over the shard deployments, pinned to that
generation, instead of searching the generation itself. The generation is
still opened here, for what reading, aggregation and citations read (document texts,
entity spans, dates); its lease also keeps its folder on disk while the shards may open
it. Everything else (following CURRENT, writes through the API, closing a generation when
its last query ends) is the single-process service's, so one query never mixes two
manifests: it holds one engine, whose retriever names one generation to every shard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.errors import IndexMismatchError
from indexer.index import Index
from service.answering.engine import QueryEngine, make_engine
from service.distributed.client import RayShardClient
from service.retrieval.retriever import Retriever
from service.state import ServiceState


@dataclass
class ShardedServiceState(ServiceState):
    """The service state of the Ray ingress; ``shard_handles[k]`` is shard k's deployment."""

    shard_handles: list[Any] = field(default_factory=list)
    shard_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.shard_handles:
            raise ValueError("a sharded service needs a deployment handle per shard")
        super().__post_init__()

    def _engine(self, index: Index) -> QueryEngine:
        manifest = index.manifest
        if manifest.shards != len(self.shard_handles):
            raise IndexMismatchError(
                f"{index.folder} has {manifest.shards} shards, the service runs "
                f"{len(self.shard_handles)} shard deployments; serve with --shards "
                f"{manifest.shards}"
            )
        clients = [
            RayShardClient(handle, shard, manifest.generation, self.shard_timeout_s)
            for shard, handle in enumerate(self.shard_handles)
        ]
        # Overlap joins and de-duplication read texts and chunk vectors from the generation
        # open here for reading: a round trip per text, or the vectors in every answer
        # (past Ray's 100 KB inline limit), cost more than reading them.
        retriever = Retriever(index, shards=clients)
        return make_engine(self.settings, retriever, self.embedder, self.reader)
