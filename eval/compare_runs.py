"""Which answers changed between two `citeqa eval` runs, question by question.

    python -m eval.compare_runs BEFORE_OUT AFTER_OUT [--show 15] [--json]

Each folder is one ``citeqa eval --out`` of the same dataset; its ``questions.jsonl`` holds a
row per configuration and question. For every configuration and question both runs hold,
the prediction, the ``sources_disagree`` flag and the confidence are compared. The table
gives, per configuration, how many answers changed and how many of those gained or lost F1
(and whether any confidence moved without the answer), then the first changes are listed.
A change is exact: two runs of the same code on the same index give none, so "0 changed" is
the claim that a refactor or a speed-up left answers alone.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from citeqa.terminal import print_table
from eval.errors import DatasetError

QUESTIONS_FILE = "questions.jsonl"


@dataclass(frozen=True)
class Change:
    """One question whose answer or disagreement flag differs between the runs."""

    configuration: str
    id: str
    question: str
    before: str | None
    after: str | None
    f1_before: float
    f1_after: float
    disagree_before: bool
    disagree_after: bool


@dataclass
class Comparison:
    """One configuration's questions in both runs."""

    configuration: str
    compared: int = 0
    changes: list[Change] = field(default_factory=list)
    confidence_moved: int = 0  # same answer and flag, another confidence
    only_before: int = 0
    only_after: int = 0

    @property
    def better(self) -> int:
        """Changes that raised the question's F1."""
        return sum(c.f1_after > c.f1_before for c in self.changes)

    @property
    def worse(self) -> int:
        """Changes that lowered it."""
        return sum(c.f1_after < c.f1_before for c in self.changes)


Rows = dict[tuple[str, str], dict[str, Any]]


def load_rows(folder: Path) -> Rows:
    """``folder``'s questions.jsonl by (configuration, question id).

    Raises:
        DatasetError: If the folder has no questions.jsonl or a line is not a question row.
    """
    path = folder / QUESTIONS_FILE
    if not path.is_file():
        raise DatasetError(f"{path} not found: pass a folder that `citeqa eval --out` wrote")
    rows: Rows = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows[(row["configuration"], row["id"])] = row
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DatasetError(f"{path}:{number} is not a question row ({error})") from error
    return rows


def compare(before: Rows, after: Rows) -> list[Comparison]:
    """Each configuration's changes from ``before`` to ``after``, in the order first met."""
    found: dict[str, Comparison] = {}

    def of(configuration: str) -> Comparison:
        return found.setdefault(configuration, Comparison(configuration))

    for key, old in before.items():
        comparison = of(key[0])
        new = after.get(key)
        if new is None:
            comparison.only_before += 1
            continue
        comparison.compared += 1
        disagree = (bool(old.get("sources_disagree")), bool(new.get("sources_disagree")))
        if old.get("prediction") != new.get("prediction") or disagree[0] != disagree[1]:
            comparison.changes.append(
                Change(
                    key[0],
                    key[1],
                    str(new.get("question", "")),
                    old.get("prediction"),
                    new.get("prediction"),
                    float(old.get("f1") or 0.0),
                    float(new.get("f1") or 0.0),
                    *disagree,
                )
            )
        elif old.get("confidence") != new.get("confidence"):
            comparison.confidence_moved += 1
    for key in after.keys() - before.keys():
        of(key[0]).only_after += 1
    return list(found.values())


def _table(comparisons: list[Comparison]) -> Table:
    table = Table(
        "configuration",
        "compared",
        "changed",
        "F1 up",
        "F1 down",
        "confidence only",
        "one run only",
    )
    for c in comparisons:
        table.add_row(
            c.configuration,
            str(c.compared),
            str(len(c.changes)),
            str(c.better),
            str(c.worse),
            str(c.confidence_moved),
            f"{c.only_before} / {c.only_after}",
        )
    return table


def _line(change: Change) -> str:
    flags = ""
    if change.disagree_before != change.disagree_after:
        flags = f" [disagree {change.disagree_before} -> {change.disagree_after}]"
    return (
        f"{change.configuration} {change.id} F1 {change.f1_before:.2f} -> {change.f1_after:.2f}"
        f"{flags}: {change.before!r} -> {change.after!r} | {change.question}"
    )


def main(argv: list[str] | None = None) -> None:
    """Compare two eval folders and print the table and the first changes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="The earlier `citeqa eval --out` folder.")
    parser.add_argument("after", type=Path, help="The later one, of the same dataset.")
    parser.add_argument("--show", type=int, default=15, help="Changes to list (default 15).")
    parser.add_argument("--json", action="store_true", help="Print the comparison as JSON.")
    args = parser.parse_args(argv)
    try:
        comparisons = compare(load_rows(args.before), load_rows(args.after))
    except DatasetError as error:
        parser.error(str(error))
    if args.json:
        found = [asdict(c) | {"better": c.better, "worse": c.worse} for c in comparisons]
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    print_table(_table(comparisons))
    changes = [change for c in comparisons for change in c.changes]
    for change in changes[: max(args.show, 0)]:
        print(_line(change))
    if len(changes) > args.show > 0:
        print(f"... and {len(changes) - args.show} more (--show N lists more)")


if __name__ == "__main__":
    main()
