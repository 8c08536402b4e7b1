"""Two eval runs compared question by question: what changed, for better or worse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.compare_runs import compare, load_rows, main
from eval.errors import DatasetError

CONFIG = "hybrid+rescore+dedup"


def _row(qid: str, prediction: str | None, f1: float, **extra: Any) -> dict[str, Any]:
    return {
        "configuration": CONFIG,
        "id": qid,
        "question": f"question {qid}?",
        "prediction": prediction,
        "f1": f1,
        "sources_disagree": False,
        "confidence": 0.9,
        **extra,
    }


def _run(folder: Path, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir()
    lines = [json.dumps(row) for row in rows]
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    before = _run(
        tmp_path / "before",
        [
            _row("same", "92", 1.0),
            _row("better", "29", 0.0),
            _row("worse", "37", 1.0),
            _row("flag", "92", 1.0),
            _row("confidence", "92", 1.0),
            _row("gone", "92", 1.0),
        ],
    )
    after = _run(
        tmp_path / "after",
        [
            _row("same", "92", 1.0),
            _row("better", "92", 1.0),
            _row("worse", None, 0.0),
            _row("flag", "92", 1.0, sources_disagree=True),
            _row("confidence", "92", 1.0, confidence=0.5),
            _row("new", "92", 1.0),
        ],
    )
    return before, after


def test_every_kind_of_change_is_counted_once(runs: tuple[Path, Path]) -> None:
    [comparison] = compare(load_rows(runs[0]), load_rows(runs[1]))

    assert comparison.configuration == CONFIG
    assert comparison.compared == 5
    assert [c.id for c in comparison.changes] == ["better", "worse", "flag"]
    assert (comparison.better, comparison.worse) == (1, 1)
    assert comparison.changes[2].disagree_after and not comparison.changes[2].disagree_before
    assert comparison.confidence_moved == 1
    assert (comparison.only_before, comparison.only_after) == (1, 1)


def test_a_run_against_itself_changes_nothing(runs: tuple[Path, Path]) -> None:
    [comparison] = compare(load_rows(runs[0]), load_rows(runs[0]))

    assert comparison.changes == [] and comparison.confidence_moved == 0


def test_the_report_lists_the_changes(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(runs[0]), str(runs[1]), "--show", "1"])

    out = capsys.readouterr().out
    assert "better F1 0.00 -> 1.00: '29' -> '92' | question better?" in out
    assert "and 2 more" in out
    main([str(runs[0]), str(runs[1]), "--json"])
    [report] = json.loads(capsys.readouterr().out)
    assert len(report["changes"]) == 3


def test_a_folder_without_questions_or_with_a_bad_line_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="citeqa eval --out"):
        load_rows(tmp_path)
    (tmp_path / "questions.jsonl").write_text('{"id": "q1"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"questions.jsonl:1 is not a question row"):
        load_rows(tmp_path)
