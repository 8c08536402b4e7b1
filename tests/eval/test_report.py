"""report.md prints counts as integers and metrics to three places."""

from __future__ import annotations

from pathlib import Path

from eval.report import run_info, write_report
from eval.runner import ConfigurationResult


def test_counts_are_integers_in_report_md(tmp_path: Path) -> None:
    result = ConfigurationResult(
        name="hybrid",
        scores=[],
        passage_metrics={"recall@5": 0.95312},
        document_metrics={},
        answer_metrics={"answerable": 85, "exact_match": 0.6, "unanswerable": 16},
        recall_curve={1: 0.8, 5: 0.95},
        latency_ms={},
    )
    write_report(tmp_path, run_info("gold", {"questions": 101}), [result])
    table_row = next(
        line for line in (tmp_path / "report.md").read_text().splitlines() if "| hybrid |" in line
    )
    cells = [cell.strip() for cell in table_row.strip("|").split("|")]
    assert cells == ["hybrid", "0.953", "85", "0.600", "16"]
