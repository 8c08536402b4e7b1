"""Pick the loader from the path, or from an explicit format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.datasets.beir import load_beir
from eval.datasets.dataset import FORMATS, Dataset
from eval.datasets.files import read_text
from eval.datasets.gold import load_gold
from eval.datasets.rgb import load_rgb
from eval.datasets.squad import load_squad
from eval.errors import DatasetError


def _first_json_row(path: Path) -> dict[str, Any]:
    for number, line in enumerate(read_text(path, "JSONL file").splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}, line {number}: not JSON ({error}); fix it") from error
            return row if isinstance(row, dict) else {}
    raise DatasetError(f"{path}: file is empty; give a JSONL file with one object per line")


def detect_format(path: str | Path) -> str:
    """Guess the format of ``path``: "beir", "squad", "rgb" or "gold"."""
    path = Path(path)
    if path.is_dir():
        if (path / "corpus.jsonl").is_file():
            return "beir"
        raise DatasetError(f"{path}: a folder without corpus.jsonl; give a BEIR folder or a file")
    if path.suffix == ".json":
        try:
            content = json.loads(read_text(path, "SQuAD JSON file"))
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}: not valid JSON ({error}); fix the file") from error
        if isinstance(content, dict) and "data" in content:
            return "squad"
        raise DatasetError(f"{path}: JSON without a 'data' list; give a SQuAD v1.1 file")
    if path.suffix == ".jsonl":
        row = _first_json_row(path)
        return "rgb" if "fakeanswer" in row or "positive_wrong" in row else "gold"
    raise DatasetError(
        f"{path}: unknown dataset type; give a .jsonl, a SQuAD .json or a BEIR folder"
    )


def load_dataset(path: str | Path, format: str | None = None, limit: int | None = None) -> Dataset:
    """Load any supported dataset, detecting its format unless ``format`` is given.

    ``limit`` caps articles (squad), queries (beir) or questions (gold, rgb). A gold set
    has no documents: the caller indexes the corpus folder it refers to.

    Example:
        >>> dataset = load_dataset(Path(__file__).parents[1] / "gold" / "seeds.jsonl", limit=2)
        >>> dataset.kind, dataset.has_answers, len(dataset.questions)
        ('gold', True, 2)
    """
    if limit is not None and limit < 1:
        raise DatasetError(f"limit must be at least 1, got {limit}; omit it to load everything")
    path = Path(path)
    kind = format or detect_format(path)
    if kind == "gold":
        questions = tuple(load_gold(path)[:limit])
        return Dataset(path.stem, (), questions, "gold", has_answers=True)
    if kind == "squad":
        return load_squad(path, limit_articles=limit)
    if kind == "beir":
        return load_beir(path, limit_queries=limit)
    if kind == "rgb":
        return load_rgb(path, limit=limit)
    raise DatasetError(f"unknown dataset format {kind!r}; use one of {', '.join(FORMATS)}")
