"""Settings that resolve to a default: the shared model cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from citeqa.config import Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_model_cache_is_shared_by_every_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CITEQA_MODEL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    one = _settings(index_dir=tmp_path / "a" / "index").resolved_model_cache_dir()
    other = _settings(index_dir=tmp_path / "eval-out" / "indexes" / "x").resolved_model_cache_dir()
    assert one == other == tmp_path / "cache" / "citeqa" / "models"


def test_model_cache_falls_back_to_the_home_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CITEQA_MODEL_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _settings().resolved_model_cache_dir() == tmp_path / ".cache" / "citeqa" / "models"


def test_a_configured_model_cache_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITEQA_MODEL_CACHE_DIR", str(tmp_path / "mine"))
    assert _settings().resolved_model_cache_dir() == tmp_path / "mine"
