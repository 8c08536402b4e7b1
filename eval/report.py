"""Write the results of a run: report.json, report.md, questions.jsonl and a recall@k plot."""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from eval.runner import ConfigurationResult


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def run_info(dataset: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a report records about its run: dataset, date, commit, machine and Python."""
    return {
        "dataset": dataset,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        **(extra or {}),
    }


def _row(result: ConfigurationResult) -> dict[str, float]:
    row: dict[str, float] = {}
    for prefix, metrics in (
        ("passage", result.passage_metrics),
        ("doc", result.document_metrics),
        ("answer", result.answer_metrics),
        ("rgb", result.rgb_metrics),
    ):
        for name, value in metrics.items():
            row[f"{prefix} {name}"] = value
    if "total" in result.latency_ms:
        row["latency p50 ms"] = result.latency_ms["total"]["p50"]
        row["latency p95 ms"] = result.latency_ms["total"]["p95"]
    return row


# The console shows the headline numbers; report.md and report.json carry all of them.
CONSOLE_COLUMNS = {
    "passage recall@1": "psg R@1",
    "passage recall@5": "psg R@5",
    "passage mrr@10": "psg MRR",
    "doc ndcg@10": "doc nDCG",
    "answer exact_match": "EM",
    "answer f1": "F1",
    "answer abstention_precision": "abst P",
    "answer abstention_recall": "abst R",
    "answer false_abstention": "false abst",
    "answer sources_disagree": "disagree",
    "rgb disagreement_flagged_when_both": "flagged",
    "rgb both_values_flagged_when_both": "both",
    "latency p50 ms": "p50 ms",
}


def format_cell(value: float | None) -> str:
    """A metric to three places, a count (an int) as it is, a missing value as "nan".

    Example:
        >>> format_cell(0.9531), format_cell(85), format_cell(1.0), format_cell(None)
        ('0.953', '85', '1.000', 'nan')
    """
    if value is None:
        return "nan"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def results_table(results: list[ConfigurationResult], title: str) -> Table:
    """The console table of each configuration's headline metrics."""
    rows = [_row(r) for r in results]
    columns = [c for c in CONSOLE_COLUMNS if rows and c in rows[0]]
    table = Table(title=title)
    table.add_column("configuration")
    for column in columns:
        table.add_column(CONSOLE_COLUMNS[column], justify="right")
    for result, row in zip(results, rows, strict=True):
        table.add_row(result.name, *(format_cell(row.get(c)) for c in columns))
    return table


def _markdown(info: dict[str, Any], results: list[ConfigurationResult]) -> str:
    rows = [_row(r) for r in results]
    columns = list(rows[0]) if rows else []
    lines = [
        f"# Evaluation: {info['dataset']}",
        "",
        f"date {info['date']} · commit {info['commit']} · {info['machine']} · "
        f"{info.get('questions', '?')} questions",
        "",
        "| configuration | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for result, row in zip(results, rows, strict=True):
        lines.append(
            f"| {result.name} | " + " | ".join(format_cell(row.get(c)) for c in columns) + " |"
        )
    final = results[-1]
    if final.failures:
        lines += ["", f"Failure attribution ({final.name}):", ""]
        lines += [f"- {name}: {count}" for name, count in sorted(final.failures.items())]
    if final.latency_ms:
        lines += ["", f"Latency per stage ({final.name}, ms):", ""]
        lines += ["| stage | p50 | p95 |", "|---|---:|---:|"]
        lines += [
            f"| {stage} | {v['p50']:.1f} | {v['p95']:.1f} |"
            for stage, v in final.latency_ms.items()
        ]
    return "\n".join(lines) + "\n"


def _plot(results: list[ConfigurationResult], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here; write the file only
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for result in results:
        if result.recall_curve:
            ks = sorted(result.recall_curve)
            axis.plot(ks, [result.recall_curve[k] for k in ks], marker="o", label=result.name)
    axis.set_xscale("log")
    axis.set_xticks(sorted({k for r in results for k in r.recall_curve}))
    axis.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axis.set_xlabel("k (passages)")
    axis.set_ylabel("recall@k")
    axis.set_ylim(0, 1.02)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_report(out: Path, info: dict[str, Any], results: list[ConfigurationResult]) -> None:
    """Write report.json, report.md, questions.jsonl and the recall plot into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "run": info,
        "configurations": {
            r.name: {
                "passage": r.passage_metrics,
                "document": r.document_metrics,
                "answer": r.answer_metrics,
                "rgb": r.rgb_metrics,
                "recall_curve": r.recall_curve,
                "latency_ms": r.latency_ms,
                "failures": r.failures,
            }
            for r in results
        },
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(_markdown(info, results))
    with open(out / "questions.jsonl", "w", encoding="utf-8") as handle:
        for result in results:
            for score in result.scores:
                row = {"configuration": result.name, **asdict(score)}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    _plot(results, out / "recall_at_k.png", f"recall@k — {info['dataset']}")
