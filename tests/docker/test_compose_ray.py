"""docker/compose.ray.yaml parses, and says what a Ray cluster of citeqa needs.

Running it takes a container engine and minutes (it was run by hand with podman-compose,
docker/README.md), so the file is checked as data: one image for every node, the token on
every node, a /dev/shm large enough for the object store, an init that forwards SIGTERM, and
the service published on 127.0.0.1 only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.ray.yaml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_a_head_and_two_workers_from_one_image(services: dict[str, Any]) -> None:
    assert sorted(services) == ["ray-head", "ray-worker-1", "ray-worker-2"]
    assert {service["image"] for service in services.values()} == {"citeqa:ray"}
    assert {service["build"]["args"]["EXTRAS"] for service in services.values()} == {"ray"}
    for name in ("ray-worker-1", "ray-worker-2"):
        assert "--address=ray-head:6379" in services[name]["command"][0]


def test_every_node_has_the_token_and_a_large_shm(services: dict[str, Any]) -> None:
    for service in services.values():
        environment = service["environment"]
        assert environment["RAY_AUTH_MODE"] == "token"
        assert environment["RAY_AUTH_TOKEN"].startswith("${CITEQA_RAY_AUTH_TOKEN:?")
        assert service["shm_size"] == "1gb"
        assert int(environment["RAY_OBJECT_STORE_BYTES"]) < 1_000_000_000


def test_the_driver_joins_with_the_same_token(services: dict[str, Any]) -> None:
    head = services["ray-head"]["environment"]
    assert head["CITEQA_RAY_ADDRESS"] == "ray-head:6379"
    assert head["CITEQA_RAY_AUTH_TOKEN"].startswith("${CITEQA_RAY_AUTH_TOKEN:?")
    assert "citeqa serve --engine ray --shards 3" in services["ray-head"]["command"][0]


def test_only_the_head_publishes_and_only_on_localhost(services: dict[str, Any]) -> None:
    assert services["ray-head"]["ports"] == ["127.0.0.1:8000:8000"]
    assert all("ports" not in services[name] for name in ("ray-worker-1", "ray-worker-2"))


def test_every_node_runs_under_an_init_that_forwards_sigterm(services: dict[str, Any]) -> None:
    # `ray start --block` as PID 1 ignores SIGTERM: a worker stopped only by SIGKILL.
    assert all(service["init"] is True for service in services.values())
