"""`citeqa eval` over a gold JSONL names the questions whose documents its corpus lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.datasets import Dataset, GoldQuestion, load_gold
from eval.harness import warn_missing_gold
from indexer.index import Index
from tests.conftest import REPO


def _question(qid: str, *doc_ids: str) -> GoldQuestion:
    return GoldQuestion(qid, "How many?", ("3",), doc_ids)


def test_questions_naming_documents_not_indexed_are_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    questions = [_question("q1", "a"), _question("q2", "b", "typo"), _question("q3", "gone")]
    dataset = Dataset("gold", (), tuple(questions), "gold", has_answers=True)
    warn_missing_gold(dataset, {"a", "b"})
    err = " ".join(capsys.readouterr().err.split())
    assert "warning 2 of 3 questions name documents the index does not hold" in err
    assert "q2 (typo); q3 (gone)" in err and "check --corpus" in err


def test_many_are_counted_not_listed(capsys: pytest.CaptureFixture[str]) -> None:
    questions = tuple(_question(f"q{n}", f"d{n}") for n in range(25))
    warn_missing_gold(Dataset("gold", (), questions, "gold", has_answers=True), set())
    err = " ".join(capsys.readouterr().err.split())
    assert "q9 (d9) and 15 more" in err and "q10 (d10)" not in err


def test_the_seed_gold_set_names_only_seed_documents(
    seed_index: Index, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = tuple(load_gold(Path(REPO / "eval" / "gold" / "seeds.jsonl")))
    dataset = Dataset("seeds", (), gold, "gold", has_answers=True)
    warn_missing_gold(dataset, set(seed_index.manifest.content_hashes))
    assert capsys.readouterr().err == ""
