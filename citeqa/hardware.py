"""``auto`` backends: OpenVINO bf16 where the CPU has bf16 units and it is faster, else ORT int8.

The choice is made once per model and machine: from the CPU's flags (AMX or AVX512-BF16
are needed for bf16 to be worth trying), then confirmed by timing both runtimes on the
model's usual call, interleaved, and written to ``backend-choice.json`` in the model cache so
that later starts read it instead of timing again. The flags alone are not enough: without
AMX, AVX512-BF16 alone can leave bf16 slower than ONNX Runtime's int8 VNNI kernels
(eval/RESULTS.md, "OpenVINO bf16").
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from citeqa.onnx import openvino_version
from citeqa.terminal import announce

log = logging.getLogger("citeqa")
Chosen = Literal["onnx-int8", "openvino-bf16"]
# The flags that give a CPU bf16 matrix products: AMX tiles, or AVX512's bf16 dot products.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CHOICE_FILE = "backend-choice.json"
# bf16 must take at most this share of int8's time to be chosen: the timing is short and the
# machine may be busy, so a near-tie keeps the default.
WIN_RATIO = 0.9
ROUNDS = 7


@dataclass(frozen=True)
class BackendChoice:
    """What ``auto`` resolved to for one model, and why (logged at start-up)."""

    backend: Chosen
    reason: str


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags; empty where ``/proc/cpuinfo`` cannot be read (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def _cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return "unknown"
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown"


def time_interleaved(
    int8: Callable[[], object], bf16: Callable[[], object], rounds: int = ROUNDS
) -> tuple[float, float]:
    """Median seconds of one call of each, alternated so both see the same machine load."""
    int8()
    bf16()  # first calls allocate and tune; not what a served call costs
    times: dict[str, list[float]] = {"int8": [], "bf16": []}
    for _ in range(rounds):
        for name, call in (("int8", int8), ("bf16", bf16)):
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["int8"]), statistics.median(times["bf16"])


def choose_backend(
    model_key: str,
    cache_dir: Path | None,
    compare: Callable[[], tuple[float, float]],
    flags: frozenset[str] | None = None,
) -> BackendChoice:
    """The backend ``auto`` means for one model on this machine.

    Args:
        model_key: Names the model and its files (a hash), so a new model is timed again.
        cache_dir: The model cache; the decision is kept in its ``backend-choice.json``
            (None: timed at every start).
        compare: Times the model's usual call on both runtimes: (int8 s, bf16 s).
        flags: The CPU's flags (default: :func:`cpu_flags`); tests pass their own.

    Example (a CPU without bf16 units: nothing is timed):
        >>> choice = choose_backend("reader-1234", None, lambda: (1.0, 1.0), flags=frozenset())
        >>> choice.backend, choice.reason.startswith("the CPU has neither")
        ('onnx-int8', True)
    """
    flags = cpu_flags() if flags is None else flags
    present = [flag for flag in BF16_FLAGS if flag in flags]
    if not present:
        return BackendChoice("onnx-int8", f"the CPU has neither {' nor '.join(BF16_FLAGS)}")
    version = openvino_version()
    if version is None:
        return BackendChoice("onnx-int8", "OpenVINO is not installed (pip install openvino)")
    key = f"{model_key} openvino-{version} {_cpu_name()} {'+'.join(present)}"
    cached = _read_choices(cache_dir).get(key) if cache_dir is not None else None
    if cached is not None:
        return cached
    announce(
        log,
        "timing ONNX Runtime int8 against OpenVINO bf16 once for %s (a few seconds; the choice "
        "is kept in %s)",
        model_key,
        CHOICE_FILE,
    )
    int8_s, bf16_s = compare()
    ratio = bf16_s / int8_s
    backend: Chosen = "openvino-bf16" if ratio <= WIN_RATIO else "onnx-int8"
    reason = (
        f"the CPU has {', '.join(present)}; timed at first start, OpenVINO bf16 took {ratio:.2f}x "
        f"ONNX Runtime int8's time ({bf16_s * 1e3:.1f} vs {int8_s * 1e3:.1f} ms; chosen when "
        f"<= {WIN_RATIO}), load average {os.getloadavg()[0]:.2f}"
    )
    choice = BackendChoice(backend, reason)
    if cache_dir is not None:
        _write_choice(cache_dir, key, choice)
    return choice


def _read_choices(cache_dir: Path) -> dict[str, BackendChoice]:
    path = cache_dir / CHOICE_FILE
    try:
        entries = json.loads(path.read_text())
        return {
            key: BackendChoice(value["backend"], value["reason"] + f" (cached in {path})")
            for key, value in entries.items()
            if value.get("backend") in ("onnx-int8", "openvino-bf16")
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        # A damaged cache only costs one more timing; say so and time again.
        log.warning("ignoring %s (%s); timing the backends again", path, error)
        return {}


def _write_choice(cache_dir: Path, key: str, choice: BackendChoice) -> None:
    path = cache_dir / CHOICE_FILE
    entries: dict[str, dict[str, str]] = {}
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = {}
    entries[key] = asdict(choice)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(suffix=".json.tmp", dir=cache_dir)
        with os.fdopen(handle, "w") as file:
            json.dump(entries, file, indent=2)
        os.replace(scratch, path)  # never half a file, even with two processes starting
    except OSError as error:
        # A read-only cache must not stop a start: the next start times again.
        log.warning("cannot keep the backend choice in %s (%s)", path, error)
