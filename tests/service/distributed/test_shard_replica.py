"""A shard replica opens the generation a request names, keeps two, and refuses the rest.

Model-free (tests/indexer/fakes.py) and without Ray: the replica is a plain class.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.generations import current_generation, generation_number
from service.distributed.shard_replica import GENERATIONS_KEPT, ShardReplica
from service.errors import ShardGenerationError
from service.retrieval.shard import SearchRequest
from tests.indexer.fakes import fake_writer, processed, vector

TEXTS = ["mexico port strike.", "ferry court vote.", "storm 92 cargo.", "tariff vote mexico."]


def _current(index_dir: Path) -> int:
    return generation_number(current_generation(index_dir))


def test_a_replica_follows_the_generation_each_request_names(tmp_path: Path) -> None:
    writer = fake_writer(tmp_path, shards=2)
    writer.add_processed([processed(f"doc-{i}", t) for i, t in enumerate(TEXTS)])
    first = _current(tmp_path)
    replica = ShardReplica(tmp_path, shard=1)
    try:
        assert replica.generations() == [first]
        writer.add_processed([processed("doc-new", "cargo ferry strike.")])
        second = _current(tmp_path)
        # The old generation still answers (a query planned before the switch) ...
        assert replica.describe(first).generation == first
        # ... and the new one opens on its first request, without a restart.
        request = SearchRequest(second, "cargo", vector("cargo"), 5)
        assert replica.search(request).shard == 1
        assert replica.generations() == [first, second]
        writer.add_processed([processed("doc-newer", "vote port.")])
        third = _current(tmp_path)
        assert replica.describe(third).shards == 2
        assert replica.generations() == [second, third][-GENERATIONS_KEPT:]
        with pytest.raises(ShardGenerationError, match="shard 1 cannot open generation 999"):
            replica.describe(999)
    finally:
        replica.close()
    assert replica.generations() == []


def test_a_replica_of_a_shard_the_index_lacks_fails_to_start(tmp_path: Path) -> None:
    fake_writer(tmp_path, shards=2).add_processed([processed("doc-0", TEXTS[0])])
    with pytest.raises(ShardGenerationError, match="shard 2 cannot open"):
        ShardReplica(tmp_path, shard=2)
