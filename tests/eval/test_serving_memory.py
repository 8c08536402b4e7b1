"""The serving-memory benchmark's arithmetic and its choice of paragraphs (no model loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.bench.serving_memory import distinct_paragraphs, per_paragraph_kib, spread


def test_per_paragraph_kib_is_the_growth_over_the_baseline_in_kib():
    # 40 MB over 1,000 more paragraphs: 40 * 1024 / 1000 KiB each.
    assert per_paragraph_kib(740.0, 700.0, 1005, 5) == pytest.approx(40.96)
    assert per_paragraph_kib(700.0, 700.0, 6000, 5) == 0.0
    with pytest.raises(ValueError, match="not above the baseline"):
        per_paragraph_kib(740.0, 700.0, 5, 5)


def test_spread_takes_evenly_and_cycles_when_short():
    assert spread(["a", "b", "c", "d", "e", "f"], 3) == ["a", "c", "e"]
    assert spread(["a", "b"], 5) == ["a", "b", "a", "b", "a"]
    with pytest.raises(ValueError, match="no items"):
        spread([], 3)


def _squad(path: Path, articles: list[list[tuple[str, list[str]]]]) -> Path:
    data = [
        {
            "title": f"article {a}",
            "paragraphs": [
                {
                    "context": context,
                    "qas": [
                        {"id": f"{a}-{p}-{q}", "question": question, "answers": []}
                        for q, question in enumerate(questions)
                    ],
                }
                for p, (context, questions) in enumerate(paragraphs)
            ],
        }
        for a, paragraphs in enumerate(articles)
    ]
    path.write_text(json.dumps({"data": data}), encoding="utf-8")
    return path


def test_distinct_paragraphs_in_order_across_sources_with_their_questions(tmp_path: Path):
    first = _squad(
        tmp_path / "first.json",
        [[("One.", ["q1"]), ("Two.", ["q2a", "q2b"])], [("One.", ["again"]), ("Three.", [])]],
    )
    second = _squad(tmp_path / "second.json", [[("Two.", []), ("Four.", ["q4"])]])
    found = distinct_paragraphs([first, second], 4, tmp_path / "scratch")
    assert [p.path.read_text(encoding="utf-8") for p in found] == [
        "One.",
        "Two.",
        "Three.",
        "Four.",
    ]
    assert [p.questions for p in found] == [("q1",), ("q2a", "q2b"), (), ("q4",)]
    # Unique file names across sources: the stem becomes the document id.
    assert len({p.name for p in found}) == 4
    with pytest.raises(ValueError, match="4 distinct paragraphs, fewer than 5"):
        distinct_paragraphs([first, second], 5, tmp_path / "again")


def test_paragraphs_follow_article_then_paragraph_number(tmp_path: Path):
    # Over 999 paragraphs in one article (SQuADShifts reddit): 0000-1000 comes after 0000-999.
    many: list[tuple[str, list[str]]] = [(f"Paragraph {p}.", []) for p in range(1002)]
    found = distinct_paragraphs([_squad(tmp_path / "one.json", [many])], 1002, tmp_path / "s")
    assert [p.path.stem for p in found[-3:]] == ["0000-999", "0000-1000", "0000-1001"]
