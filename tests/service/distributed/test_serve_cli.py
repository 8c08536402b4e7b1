"""`citeqa serve --engine ray`: what is checked before Ray is reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citeqa.cli import app
from citeqa.config import Settings, get_settings
from indexer.errors import IndexMismatchError
from service.distributed.app import ServeLayout, serving_settings, shard_deployment_name
from tests.indexer.fakes import fake_writer, processed


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_shard_count_other_than_the_index_s_is_refused_before_ray(tmp_path: Path) -> None:
    fake_writer(tmp_path, shards=2).add_processed([processed("doc-0", "mexico port strike.")])
    arguments = ["serve", "--engine", "ray", "--shards", "3", "--index-dir", str(tmp_path)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1, result.output
    assert "has 2 shards, not 3: serve with --shards 2" in result.stderr


def test_the_ingress_writes_with_the_index_s_shard_count(tmp_path: Path) -> None:
    # CITEQA_SHARDS set for another index: API writes to a 3-shard index were refused (503).
    fake_writer(tmp_path, shards=3).add_processed([processed("doc-0", "mexico port strike.")])
    settings = Settings(index_dir=tmp_path, shards=1)
    assert serving_settings(settings, None).shards == 3
    assert serving_settings(settings, 3).shards == 3
    with pytest.raises(IndexMismatchError, match="has 3 shards, not 2"):
        serving_settings(settings, 2)


def test_an_unknown_engine_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["serve", "--engine", "spark"])
    assert result.exit_code == 2
    assert "--engine must be local or ray" in result.output


def test_the_layout_shares_the_cpu_budget_among_all_replicas() -> None:
    # Three shards of two replicas and the ingress in one CPU.
    assert ServeLayout(shards=3, replicas=2, cpus=1.0).replica_cpus == 0.14
    assert shard_deployment_name(2) == "citeqa-shard-2"
    with pytest.raises(ValueError, match="at least 1"):
        ServeLayout(shards=0, replicas=2, cpus=1.0)
