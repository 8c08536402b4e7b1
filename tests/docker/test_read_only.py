"""`docker run --read-only` works on a fresh volume: every temporary file and cache the
image's programs write points into /data, and the entry point creates those folders.

(The run itself is `make docker-smoke`, which starts every container with --read-only;
this checks the image's definition where no container engine is at hand.)"""

from __future__ import annotations

import re
from pathlib import Path

DOCKER = Path(__file__).resolve().parents[2] / "docker"
# What torch, Hugging Face, matplotlib and Python's tempfile write outside the index.
WRITERS = ("TMPDIR", "XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME", "MPLCONFIGDIR")


def _env(dockerfile: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$", dockerfile, re.MULTILINE))


def test_temporary_files_and_caches_live_on_the_volume() -> None:
    env = _env((DOCKER / "Dockerfile").read_text())
    for name in WRITERS:
        assert env.get(name, "").startswith("/data/"), f"{name} is {env.get(name)!r}"


def test_the_entry_point_creates_them_before_anything_runs() -> None:
    script = (DOCKER / "entrypoint.sh").read_text()
    creates = script.index('mkdir -p "${TMPDIR:-/data/tmp}" "${XDG_CACHE_HOME:-/data/cache}"')
    assert creates < script.index("run_child()")
