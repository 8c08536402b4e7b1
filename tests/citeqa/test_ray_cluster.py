"""The Ray helpers' rules, without a cluster (and without Ray where it is not installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from citeqa.config import Settings
from citeqa.errors import RayClusterError, RayNotInstalledError
from citeqa.ray_cluster import (
    RayClusterConfig,
    actor_pool_size,
    connect,
    replica_cpus,
    require_ray,
    token_auth_environment,
)


def test_token_auth_environment_turns_token_mode_on() -> None:
    assert token_auth_environment("abc") == {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "abc"}


@pytest.mark.parametrize("token", ["", " abc", "abc\n"])
def test_token_auth_environment_refuses_a_blank_or_padded_token(token: str) -> None:
    with pytest.raises(RayClusterError, match="CITEQA_RAY_AUTH_TOKEN"):
        token_auth_environment(token)


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(RayNotInstalledError, match=r"pip install 'citeqa\[ray\]'"):
        require_ray()


def test_joining_a_cluster_without_its_token_is_refused_before_ray_starts() -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    with pytest.raises(RayClusterError, match="CITEQA_RAY_AUTH_TOKEN"):
        connect(RayClusterConfig(address="10.0.0.1:6379"))


def test_settings_reach_the_cluster_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_RAY_ADDRESS", "head:6379")
    monkeypatch.setenv("CITEQA_RAY_AUTH_TOKEN", "t0ken")
    monkeypatch.setenv("CITEQA_RAY_OBJECT_STORE_MB", "100")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    config = RayClusterConfig.from_settings(settings)
    assert (config.address, config.auth_token) == ("head:6379", "t0ken")
    assert config.object_store_bytes == 100 * 1024 * 1024
    assert "t0ken" not in repr(settings) and "t0ken" not in repr(config)


def test_an_object_store_below_rays_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="object_store_bytes"):
        RayClusterConfig(object_store_bytes=10 * 1024 * 1024)


@pytest.mark.parametrize(
    ("budget", "replicas", "expected"),
    [(1.0, 7, 0.14), (1.0, 1, 1.0), (8.0, 4, 1.0), (0.5, 3, 0.16), (2.0, 3, 0.66)],
)
def test_replica_cpus_fit_the_budget(budget: float, replicas: int, expected: float) -> None:
    share = replica_cpus(budget, replicas)
    assert share == expected
    assert share * replicas <= budget + 1e-9


def test_replica_cpus_refuse_a_budget_too_small_to_split() -> None:
    with pytest.raises(RayClusterError, match="CITEQA_RAY_SERVE_CPUS"):
        replica_cpus(0.05, 10)


@pytest.mark.parametrize(
    ("cpus", "per_actor", "headroom", "expected"),
    [(2, 1, 1, 1), (2, 0.5, 1, 2), (16, 1, 2, 14), (3, 0.3, 1, 6)],
)
def test_actor_pool_leaves_the_headroom_free(
    cpus: float, per_actor: float, headroom: float, expected: int
) -> None:
    size = actor_pool_size(cpus, per_actor, headroom)
    assert size == expected
    assert size * per_actor <= cpus - headroom + 1e-9


def test_actor_pool_that_would_take_every_cpu_is_refused() -> None:
    with pytest.raises(RayClusterError, match="read tasks"):
        actor_pool_size(cluster_cpus=1, cpus_per_actor=1, headroom_cpus=1)


def test_a_headroom_below_one_read_task_is_refused() -> None:
    with pytest.raises(RayClusterError, match="one read task"):
        actor_pool_size(cluster_cpus=4, cpus_per_actor=1, headroom_cpus=0.5)


def test_the_single_process_path_never_imports_ray() -> None:
    code = (
        "import sys, citeqa.cli, citeqa.config, citeqa.ray_cluster, service.main, "
        "indexer.factory; "
        "assert 'ray' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ray'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
