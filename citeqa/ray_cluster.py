"""Connecting to Ray for `--engine ray`: token auth, small resources, CPU budgets.

Only the `--engine ray` path imports this module's callers, and this module imports Ray
only inside its functions: without the `ray` extra every other command runs as before, and
a ray command stops with :class:`RayNotInstalledError`, which says what to install.

Token authentication is set explicitly, never left to Ray's defaults. Ray 2.59 turned it on
by default for clusters that ``ray.init()`` starts (with a token it writes to
``~/.ray/auth_token``), while ``ray start`` clusters follow ``RAY_AUTH_MODE``; Ray 2.61 turns
it on for all clusters (https://docs.ray.io/en/latest/ray-security/token-auth.html). Ray
reads two variables, which every node and every driver must share:

- ``RAY_AUTH_MODE=token``: every RPC and HTTP entry point checks the token;
- ``RAY_AUTH_TOKEN=<token>``: the token itself. It takes precedence over
  ``RAY_AUTH_TOKEN_PATH`` and ``~/.ray/auth_token``, so nothing is read from or written to
  the home folder, which other clusters on the same machine may use.

Both are process environment, read by Ray's C++ core and inherited by every process a node
starts, so :func:`apply_token_auth` sets them in ``os.environ`` before Ray starts anything.
"""

from __future__ import annotations

import math
import os
import secrets
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from citeqa.errors import RayClusterError, RayNotInstalledError

if TYPE_CHECKING:
    from citeqa.config import Settings

INSTALL_HINT = "pip install 'citeqa[ray]'"
# Ray refuses a smaller object store (ray_constants.OBJECT_STORE_MINIMUM_MEMORY_BYTES).
MIN_OBJECT_STORE_BYTES = 75 * 1024 * 1024
# Serve and Ray Data schedule fractions of a CPU to 1/10,000 of a unit; finer is noise.
_CPU_STEP = 0.01


@dataclass(frozen=True)
class RayClusterConfig:
    """Where and how a driver joins Ray.

    Attributes:
        address: A running cluster's GCS address (``host:6379``); empty starts a local
            single-node cluster inside this process, as ``ray.init()`` does.
        auth_token: The cluster's token. Empty is allowed only when starting a local
            cluster: one is then generated for it (and its child processes inherit it).
        num_cpus: CPUs a local cluster offers; None means every core.
        object_store_bytes: A local cluster's object store. Ray's default is 30% of RAM,
            far more than citeqa's batches of chunks need on a shared machine.
        namespace: Ray namespace, so that named Serve apps and actors of citeqa do not
            collide with other jobs on a shared cluster.
    """

    address: str = ""
    auth_token: str = field(default="", repr=False)
    num_cpus: int | None = None
    object_store_bytes: int = 200 * 1024 * 1024
    namespace: str = "citeqa"

    def __post_init__(self) -> None:
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError("num_cpus must be at least 1")
        if self.object_store_bytes < MIN_OBJECT_STORE_BYTES:
            raise ValueError(f"object_store_bytes must be at least {MIN_OBJECT_STORE_BYTES}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RayClusterConfig:
        """The cluster settings of ``CITEQA_RAY_*``."""
        return cls(
            address=settings.ray_address,
            auth_token=settings.ray_auth_token.get_secret_value(),
            num_cpus=settings.ray_num_cpus,
            object_store_bytes=settings.ray_object_store_mb * 1024 * 1024,
        )


def require_ray() -> ModuleType:
    """Import Ray, or stop with an error that says how to install it.

    Example (imports Ray, an optional extra, so not run as a doctest)::

        require_ray().__name__
        # -> 'ray'
    """
    try:
        import ray
    except ImportError as error:
        raise RayNotInstalledError(
            f"--engine ray needs Ray, which this install leaves out: {INSTALL_HINT} "
            f"(or leave out --engine ray to run in one process); import failed: {error}"
        ) from error
    return ray


def token_auth_environment(token: str) -> dict[str, str]:
    """The environment that turns on Ray's token auth with ``token``, for nodes and drivers.

    Example:
        >>> token_auth_environment("s3cret")
        {'RAY_AUTH_MODE': 'token', 'RAY_AUTH_TOKEN': 's3cret'}
    """
    if not token or token.strip() != token:
        raise RayClusterError(
            "a Ray auth token must be non-empty and without surrounding spaces; "
            "set CITEQA_RAY_AUTH_TOKEN (e.g. to the output of `ray get-auth-token --generate`)"
        )
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}


def new_auth_token() -> str:
    """A random token of 256 bits, as ``ray get-auth-token --generate`` makes."""
    return secrets.token_hex(32)


def apply_token_auth(token: str) -> None:
    """Set Ray's token-auth variables in this process, for Ray and every process it starts.

    Ray's core caches the mode and the token the first time it reads its config, which
    can be as early as ``import ray`` plus a ``@ray.remote``. So when Ray is already loaded
    its cache is refreshed, as Ray's own ``_enable_token_auth`` does (private API: the extra
    pins Ray exactly, and tests/ray checks it).
    """
    os.environ.update(token_auth_environment(token))
    raylet: Any = sys.modules.get("ray._raylet")  # its stubs leave these two out
    if raylet is not None:
        raylet.Config.initialize("")
        raylet.AuthenticationTokenLoader.instance().reset_cache()


def connect(config: RayClusterConfig) -> str:
    """Join the cluster at ``config.address``, or start a local one; return its address.

    The token is set before Ray starts. A remote cluster without a token is refused here,
    with the setting to fix, rather than by Ray's authentication error.

    Example (starts a Ray cluster, so not run as a doctest)::

        connect(RayClusterConfig(num_cpus=2))
        # -> '127.0.0.1:6379'
    """
    ray = require_ray()
    if config.address and not config.auth_token:
        raise RayClusterError(
            f"joining the Ray cluster at {config.address} needs its token: set "
            "CITEQA_RAY_AUTH_TOKEN to the token its nodes were started with (RAY_AUTH_TOKEN)"
        )
    apply_token_auth(config.auth_token or new_auth_token())
    options: dict[str, Any] = {"namespace": config.namespace, "ignore_reinit_error": True}
    if config.address:
        options["address"] = config.address
    else:
        options.update(
            num_cpus=config.num_cpus,
            object_store_memory=config.object_store_bytes,
            include_dashboard=False,
        )
    try:
        context = ray.init(**options)
    except ConnectionError as error:
        raise RayClusterError(
            f"cannot reach the Ray cluster at {config.address}: {error}; check "
            "CITEQA_RAY_ADDRESS and that its head node runs (`ray status`)"
        ) from error
    return str(context.address_info["gcs_address"])


def disconnect() -> None:
    """Leave the cluster (and stop it, when :func:`connect` started it in this process)."""
    ray = require_ray()
    if ray.is_initialized():
        ray.shutdown()


def replica_cpus(cpu_budget: float, replicas: int) -> float:
    """The CPUs each of ``replicas`` Serve replicas reserves so that all fit in ``cpu_budget``.

    Serve reserves one CPU per replica by default: an ingress and three shards with two
    replicas each would need 7 CPUs before answering anything. Replicas of citeqa wait on
    I/O and on each other most of the time, so on a small machine they share cores.

    Example:
        >>> replica_cpus(1.0, 7)
        0.14
        >>> replica_cpus(8.0, 4)
        1.0
    """
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    if cpu_budget <= 0:
        raise ValueError("cpu_budget must be greater than 0")
    share = min(1.0, cpu_budget / replicas)
    steps = math.floor(share / _CPU_STEP)
    if steps < 1:
        raise RayClusterError(
            f"{replicas} Serve replicas do not fit in {cpu_budget} CPUs at {_CPU_STEP} "
            "CPU each; raise CITEQA_RAY_SERVE_CPUS or use fewer replicas"
        )
    return round(steps * _CPU_STEP, 2)


def actor_pool_size(
    cluster_cpus: float, cpus_per_actor: float, headroom_cpus: float, read_task_cpus: float = 1.0
) -> int:
    """How many Ray Data actors of ``cpus_per_actor`` fit while leaving ``headroom_cpus`` free.

    A `map_batches` actor pool that reserves every CPU leaves none for the read tasks that
    feed it, and the pipeline waits forever. The headroom is kept for them, and must hold
    at least one read task (Ray Data's tasks ask for 1 CPU unless told otherwise).

    The headroom is a cluster total, but a task needs its CPUs on one node, and Ray Data
    spreads actors over the nodes. So actors should take whole CPUs on nodes of few cores:
    on two nodes of 1 CPU, two actors of 0.5 CPU left half a CPU free on each node and the
    read task never started (tests/ray, Ray 2.60); one actor of 1 CPU runs.

    Example:
        >>> actor_pool_size(cluster_cpus=2, cpus_per_actor=1, headroom_cpus=1)
        1
        >>> actor_pool_size(cluster_cpus=16, cpus_per_actor=1, headroom_cpus=2)
        14
    """
    if cpus_per_actor <= 0:
        raise ValueError("cpus_per_actor must be greater than 0")
    if headroom_cpus < read_task_cpus:
        raise RayClusterError(
            f"a headroom of {headroom_cpus} CPUs cannot run one read task of "
            f"{read_task_cpus} CPUs, and the pipeline would wait forever; raise "
            "CITEQA_RAY_BUILD_HEADROOM_CPUS"
        )
    free = cluster_cpus - headroom_cpus
    size = math.floor(free / cpus_per_actor + 1e-9)
    if size < 1:
        raise RayClusterError(
            f"a cluster of {cluster_cpus} CPUs has no room for an actor of {cpus_per_actor} "
            f"CPUs after leaving {headroom_cpus} CPUs to Ray Data's read tasks; add CPUs or "
            "give the actors fewer CPUs"
        )
    return size
