"""Checks that the gold question set over the seed articles is well formed and extractive.

Every answer must be a verbatim span of a cited seed document, so that exact-match and
citation scores computed against this file mean what they say.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEEDS_DIR = PROJECT_ROOT / "seeds"
GOLD_PATH = PROJECT_ROOT / "eval" / "gold" / "seeds.jsonl"

REQUIRED_KEYS = {"id", "question", "answers", "doc_ids", "type"}
OPTIONAL_KEYS = {"evidence"}
ALLOWED_TYPES = {
    "who",
    "when",
    "where",
    "how_many",
    "how_much",
    "which",
    "what",
    "why",
    "how",
    "yes_no",
}
TYPES_THAT_MUST_APPEAR = {"who", "when", "where", "how_many", "which", "what", "why"}
MIN_QUESTIONS = 60
MIN_UNANSWERABLE = 10
MIN_QUESTIONS_PER_DOC = 8

GoldRecord = dict[str, Any]


def load_seed_texts(seeds_dir: Path) -> dict[str, str]:
    """Map each seed document id (the file stem) to its full text."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(seeds_dir.glob("*.txt"))}


def load_gold_lines(gold_path: Path) -> list[str]:
    """Return the non-blank lines of the gold file."""
    lines = gold_path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


def is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def shape_problems(record: object) -> list[str]:
    """Describe every way a parsed line breaks the schema; an empty list means it is valid."""
    if not isinstance(record, dict):
        return [f"line is a {type(record).__name__}, not a JSON object"]
    return key_problems(record) or value_problems(record)


def key_problems(record: GoldRecord) -> list[str]:
    """Missing, unknown and wrongly typed keys."""
    problems: list[str] = []
    missing = REQUIRED_KEYS - record.keys()
    unknown = record.keys() - REQUIRED_KEYS - OPTIONAL_KEYS
    if missing:
        problems.append(f"missing keys {sorted(missing)}")
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)} (typo?)")
    for key in ("id", "question", "type"):
        if key in record and not (isinstance(record[key], str) and record[key].strip()):
            problems.append(f"{key!r} must be a non-empty string")
    for key in ("answers", "doc_ids"):
        if key in record and not is_string_list(record[key]):
            problems.append(f"{key!r} must be a list of non-empty strings")
    return problems


def value_problems(record: GoldRecord) -> list[str]:
    """What the values of a record with every key present and well typed say wrongly."""
    problems: list[str] = []
    if record["type"] not in ALLOWED_TYPES:
        problems.append(f"type {record['type']!r} is not one of {sorted(ALLOWED_TYPES)}")
    if not record["question"].rstrip().endswith("?"):
        problems.append("question should end with '?'")
    if len(set(record["doc_ids"])) != len(record["doc_ids"]):
        problems.append("doc_ids lists a document twice")
    if bool(record["answers"]) != bool(record["doc_ids"]):
        problems.append("answers and doc_ids must be both empty (unanswerable) or both non-empty")
    if record["answers"] and not isinstance(record.get("evidence"), str):
        problems.append("an answerable question needs an 'evidence' string")
    if not record["answers"] and "evidence" in record:
        problems.append("an unanswerable question must not carry 'evidence'")
    return problems


def grounding_problems(record: GoldRecord, seed_texts: dict[str, str]) -> list[str]:
    """Describe every answer, document or evidence span the seed texts do not support."""
    unknown_docs = [doc_id for doc_id in record["doc_ids"] if doc_id not in seed_texts]
    if unknown_docs:
        return [f"doc_ids {unknown_docs} are not files in {SEEDS_DIR}"]
    texts = [seed_texts[doc_id] for doc_id in record["doc_ids"]]
    answers: list[str] = record["answers"]
    problems: list[str] = []
    for answer in answers:
        if not any(answer in text for text in texts):
            problems.append(f"answer {answer!r} is not verbatim in any listed doc")
    for doc_id, text in zip(record["doc_ids"], texts, strict=True):
        if not any(answer in text for answer in answers):
            problems.append(f"listed doc {doc_id} contains none of the answers")
    evidence = record.get("evidence")
    if evidence is not None:
        if not any(evidence in text for text in texts):
            problems.append(f"evidence {evidence!r} is not verbatim in any listed doc")
        if not any(answer in evidence for answer in answers):
            problems.append("evidence contains none of the answers")
    return problems


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    texts = load_seed_texts(SEEDS_DIR)
    assert texts, f"no seed documents found in {SEEDS_DIR}"
    return texts


@pytest.fixture(scope="module")
def gold_records() -> list[GoldRecord]:
    assert GOLD_PATH.is_file(), f"gold file missing: {GOLD_PATH}"
    records: list[GoldRecord] = []
    for number, line in enumerate(load_gold_lines(GOLD_PATH), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            pytest.fail(f"{GOLD_PATH.name} line {number} is not valid JSON: {error}")
        problems = shape_problems(record)
        assert not problems, f"{GOLD_PATH.name} line {number}: {'; '.join(problems)}"
        records.append(record)
    return records


def test_every_line_is_a_well_formed_record(gold_records: list[GoldRecord]) -> None:
    # The fixture fails on the first malformed line; this keeps that failure its own test.
    assert gold_records, f"{GOLD_PATH} holds no questions"


def test_ids_are_unique(gold_records: list[GoldRecord]) -> None:
    counts = Counter(record["id"] for record in gold_records)
    duplicates = sorted(record_id for record_id, count in counts.items() if count > 1)
    assert not duplicates, f"duplicate ids: {duplicates}"


def test_questions_are_unique(gold_records: list[GoldRecord]) -> None:
    counts = Counter(record["question"].strip().lower() for record in gold_records)
    duplicates = sorted(question for question, count in counts.items() if count > 1)
    assert not duplicates, f"questions asked twice: {duplicates}"


def test_answers_and_evidence_are_verbatim_in_listed_docs(
    gold_records: list[GoldRecord], seed_texts: dict[str, str]
) -> None:
    failures = [
        f"{record['id']}: {problem}"
        for record in gold_records
        for problem in grounding_problems(record, seed_texts)
    ]
    assert not failures, "ungrounded gold records:\n" + "\n".join(failures)


def test_grounding_check_rejects_a_bad_record(seed_texts: dict[str, str]) -> None:
    # Guards against the grounding check silently passing everything.
    doc_id = sorted(seed_texts)[0]
    bad_record: GoldRecord = {
        "id": "bad-001",
        "question": "Who won?",
        "answers": ["an answer no article contains"],
        "doc_ids": [doc_id, "not_a_seed"],
        "evidence": seed_texts[doc_id][:40],
        "type": "who",
    }
    assert grounding_problems(bad_record, seed_texts), "an unknown doc id was accepted"
    bad_record["doc_ids"] = [doc_id]
    problems = grounding_problems(bad_record, seed_texts)
    assert any("not verbatim" in problem for problem in problems), problems
    assert any("evidence contains none" in problem for problem in problems), problems


def test_shape_check_rejects_bad_records() -> None:
    assert shape_problems(["not", "an", "object"])
    assert shape_problems({"id": "x", "question": "Why?", "answers": [], "type": "why"})
    unanswerable_with_evidence = {
        "id": "x",
        "question": "Why?",
        "answers": [],
        "doc_ids": [],
        "evidence": "some text",
        "type": "why",
    }
    assert shape_problems(unanswerable_with_evidence)


def test_enough_questions(gold_records: list[GoldRecord]) -> None:
    assert len(gold_records) >= MIN_QUESTIONS, (
        f"gold set has {len(gold_records)} questions; at least {MIN_QUESTIONS} are required"
    )


def test_enough_unanswerable_questions(gold_records: list[GoldRecord]) -> None:
    unanswerable = [record["id"] for record in gold_records if not record["answers"]]
    assert len(unanswerable) >= MIN_UNANSWERABLE, (
        f"only {len(unanswerable)} unanswerable questions; at least {MIN_UNANSWERABLE} required"
    )


def test_every_seed_doc_is_covered(
    gold_records: list[GoldRecord], seed_texts: dict[str, str]
) -> None:
    per_doc = Counter(doc_id for record in gold_records for doc_id in record["doc_ids"])
    thin = {
        doc_id: per_doc[doc_id] for doc_id in seed_texts if per_doc[doc_id] < MIN_QUESTIONS_PER_DOC
    }
    assert not thin, f"seed docs with fewer than {MIN_QUESTIONS_PER_DOC} questions: {thin}"


def test_every_core_question_type_is_present(gold_records: list[GoldRecord]) -> None:
    present = {record["type"] for record in gold_records}
    missing = TYPES_THAT_MUST_APPEAR - present
    assert not missing, f"no questions of type {sorted(missing)}"


def test_some_questions_are_answered_by_several_docs(gold_records: list[GoldRecord]) -> None:
    multi_doc = [record["id"] for record in gold_records if len(record["doc_ids"]) > 1]
    assert multi_doc, "no question cites more than one seed document"
