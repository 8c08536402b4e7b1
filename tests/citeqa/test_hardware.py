"""auto's rule: bf16 only with bf16 units and a measured win, decided once per model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citeqa.hardware import CHOICE_FILE, choose_backend, cpu_flags

AMX = frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})


class Timer:
    """A stand-in for timing both runtimes: returns fixed seconds and counts calls."""

    def __init__(self, int8_s: float, bf16_s: float) -> None:
        self.seconds = (int8_s, bf16_s)
        self.calls = 0

    def __call__(self) -> tuple[float, float]:
        self.calls += 1
        return self.seconds


def test_no_bf16_units_keep_int8_without_timing(tmp_path: Path) -> None:
    timer = Timer(1.0, 0.1)

    choice = choose_backend("m", tmp_path, timer, flags=frozenset({"avx512f", "avx512_vnni"}))

    assert choice.backend == "onnx-int8" and "neither amx_bf16 nor avx512_bf16" in choice.reason
    assert timer.calls == 0 and not (tmp_path / CHOICE_FILE).exists()


@pytest.mark.parametrize(
    ("bf16_s", "expected"),
    [(0.5, "openvino-bf16"), (0.95, "onnx-int8"), (1.3, "onnx-int8")],
)
def test_bf16_units_are_confirmed_by_timing(tmp_path: Path, bf16_s: float, expected: str) -> None:
    choice = choose_backend("m", tmp_path, Timer(1.0, bf16_s), flags=AMX)

    assert choice.backend == expected
    assert f"{bf16_s:.2f}x" in choice.reason and "amx_bf16" in choice.reason


def test_the_decision_is_cached_per_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    timer = Timer(1.0, 0.5)

    with caplog.at_level("INFO", logger="citeqa"):
        first = choose_backend("reader-abc", tmp_path, timer, flags=AMX)
        again = choose_backend("reader-abc", tmp_path, Timer(1.0, 2.0), flags=AMX)
        other = choose_backend("embedder-def", tmp_path, Timer(1.0, 2.0), flags=AMX)

    # The seconds of timing are announced, once for each model timed.
    timed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("timing")]
    assert len(timed) == 2 and "reader-abc" in timed[0] and "embedder-def" in timed[1]

    assert first.backend == again.backend == "openvino-bf16" and timer.calls == 1
    assert "cached in" in again.reason
    assert other.backend == "onnx-int8"  # another model is timed on its own
    assert len(json.loads((tmp_path / CHOICE_FILE).read_text())) == 2


def test_a_damaged_cache_is_timed_again(tmp_path: Path) -> None:
    (tmp_path / CHOICE_FILE).write_text("{not json")
    timer = Timer(1.0, 0.5)

    assert choose_backend("m", tmp_path, timer, flags=AMX).backend == "openvino-bf16"
    assert timer.calls == 1 and json.loads((tmp_path / CHOICE_FILE).read_text())


def test_cpu_flags_reads_the_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_bf16\n")

    assert cpu_flags(cpuinfo) == {"fpu", "avx512_bf16", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_without_openvino_installed_auto_keeps_int8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("citeqa.hardware.openvino_version", lambda: None)
    timer = Timer(1.0, 0.1)

    choice = choose_backend("m", tmp_path, timer, flags=AMX)

    assert choice.backend == "onnx-int8" and "pip install openvino" in choice.reason
    assert timer.calls == 0
