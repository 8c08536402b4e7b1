"""Dataset loaders on tiny fixtures written here, plus a smoke load of the real dev sets."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from eval.datasets import (
    Dataset,
    GoldQuestion,
    detect_format,
    load_beir,
    load_dataset,
    load_gold,
    load_rgb,
    load_squad,
)
from eval.errors import DatasetError

BENCHMARKS = Path(__file__).resolve().parents[3] / "shared" / "benchmarks"
NYT_URL = "https://www.nytimes.com/2016/05/04/world/europe/some-story.html"

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "Warsaw",
            "paragraphs": [
                {
                    "context": "Warsaw is the capital of Poland.",
                    "qas": [
                        {
                            "id": "q-capital",
                            "question": "What is Warsaw the capital of?",
                            "answers": [
                                {"text": "Poland", "answer_start": 25},
                                {"text": "Poland", "answer_start": 25},
                                {"text": "of Poland", "answer_start": 22},
                            ],
                        }
                    ],
                },
                {"context": "The Vistula flows through it.", "qas": []},
            ],
        },
        {
            "title": NYT_URL,
            "split": "nyt",
            "paragraphs": [
                {
                    "context": "LONDON — The vote was held on Thursday.",
                    "qas": [
                        {
                            "id": "q-vote",
                            "question": "When was the vote held?",
                            "answers": [{"text": "Thursday", "answer_start": 30}],
                        }
                    ],
                }
            ],
        },
    ],
}

RGB_ROWS = [
    {
        "id": 0,
        "query": "Who won the 2022 final?",
        "answer": "Argentina",
        "fakeanswer": "France",
        "positive_wrong": ["France won the 2022 final.", "France won the 2022 final."],
        "positive": ["Argentina won the 2022 final.", "Argentina won the 2022 final."],
        "negative": ["The 2018 final was in Moscow."],
    },
    {
        "id": 2,
        "query": "When was the launch?",
        "answer": [["Dec 1, 2017", "December 1, 2017"]],
        "fakeanswer": "May 9, 2012",
        "positive_wrong": ["The launch was on May 9, 2012."],
        "positive": ["The launch was on Dec 1, 2017.", "Argentina won the 2022 final."],
        "negative": [],
    },
]

GOLD_ROWS = [
    {
        "id": "g1",
        "question": "Who denied the report?",
        "answers": ["Mexico", "the Mexican Foreign Ministry"],
        "doc_ids": ["000_ae180a96166ce849"],
        "evidence": "Mexico has denied a recent Reuters investigation",
        "type": "entity",
    },
    {"id": "g2", "question": "Who won in 1850?", "answers": [], "doc_ids": []},
]


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-squad" / "dev.json"
    path.parent.mkdir()
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    return path


@pytest.fixture
def beir_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "tinybeir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "Aspirin", "text": "Aspirin thins blood."},
        {"_id": "d2", "title": "", "text": "Untitled abstract."},
        {"_id": "d3", "title": "Noise", "text": "Nothing here."},
    ]
    queries = [
        {"_id": "q1", "text": "Aspirin and blood", "metadata": {}},
        {"_id": "q2", "text": "No judgments", "metadata": {}},
        {"_id": "q3", "text": "Only a zero judgment", "metadata": {}},
        {"_id": "q4", "text": "Two relevant", "metadata": {}},
    ]
    write_jsonl(folder / "corpus.jsonl", corpus)
    write_jsonl(folder / "queries.jsonl", queries)
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq3\td3\t0\nq4\td2\t2\nq4\td1\t1\nq4\td3\t0\n"
    (folder / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return folder


@pytest.fixture
def rgb_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "dev.jsonl", RGB_ROWS)


@pytest.fixture
def gold_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "seeds.jsonl", GOLD_ROWS)


def test_gold_question_derives_relevance_and_stays_immutable() -> None:
    question = GoldQuestion("q", "Who?", ("Ann",), ("d1", "d2"))
    assert dict(question.relevance) == {"d1": 1, "d2": 1}
    assert question.answerable
    assert hash(question) == hash(GoldQuestion("q", "Who?", ("Ann",), ("d1", "d2")))
    with pytest.raises(TypeError):
        question.relevance["d3"] = 1  # type: ignore[index]
    assert not GoldQuestion("u", "Who?", (), ("d1",)).answerable


def test_load_gold(gold_file: Path) -> None:
    first, second = load_gold(gold_file)
    assert first.answers == ("Mexico", "the Mexican Foreign Ministry")
    assert first.doc_ids == ("000_ae180a96166ce849",)
    assert first.question_type == "entity"
    assert first.evidence is not None and first.evidence.startswith("Mexico has denied")
    assert first.answerable and not second.answerable


def _gold_line(**changes: object) -> str:
    row: dict[str, object] = {"id": "g3", "question": "Q?", "answers": [], "doc_ids": []}
    row.update(changes)
    return json.dumps({key: value for key, value in row.items() if value is not None})


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "line 2: .*Invalid JSON"),
        (_gold_line(answers=None), "line 2: answers: Field required"),
        (_gold_line(answers="x"), "line 2: answers: Input should be a valid array"),
        (_gold_line(question=""), "line 2: question: String should have at least 1 character"),
        (_gold_line(id=3), "line 2: id: Input should be a valid string"),
        (_gold_line(evidance="x"), "line 2: evidance: Extra inputs are not permitted"),
        (_gold_line(id="g1"), "line 2: id 'g1' already used on line 1"),
    ],
)
def test_load_gold_names_the_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(GOLD_ROWS[0]) + "\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=message) as raised:
        load_gold(path)
    assert str(path) in str(raised.value)


def test_load_gold_rejects_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        load_gold(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no questions"):
        load_gold(tmp_path / "empty.jsonl")


def test_load_squad_makes_one_document_per_paragraph(squad_file: Path) -> None:
    dataset = load_squad(squad_file)
    assert (dataset.kind, dataset.has_answers, dataset.name) == ("squad", True, "tiny-squad-dev")
    assert [doc.doc_id for doc in dataset.documents] == ["0000-000", "0000-001", "0001-000"]
    wiki, _, news = dataset.documents
    assert (wiki.title, wiki.url, wiki.published) == ("Warsaw", None, None)
    assert (news.title, news.url, news.published) == (NYT_URL, NYT_URL, "2016-05-04")
    assert news.source == "nytimes.com"
    capital, vote = dataset.questions
    assert capital.answers == ("Poland", "of Poland")
    assert (capital.doc_ids, vote.doc_ids) == (("0000-000",), ("0001-000",))
    for question in dataset.questions:
        (doc,) = [d for d in dataset.documents if d.doc_id == question.doc_ids[0]]
        assert all(answer in doc.text for answer in question.answers)


def test_load_squad_limit_articles(squad_file: Path) -> None:
    dataset = load_squad(squad_file, limit_articles=1)
    assert len(dataset.documents) == 2
    assert [q.id for q in dataset.questions] == ["q-capital"]


def test_load_squad_rejects_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}))
    with pytest.raises(DatasetError, match=r"not SQuAD v1.1 JSON .*context"):
        load_squad(path)


def test_load_beir_keeps_judged_queries(beir_folder: Path) -> None:
    dataset = load_beir(beir_folder)
    assert (dataset.kind, dataset.has_answers, dataset.name) == ("beir", False, "tinybeir")
    d1, d2, _ = dataset.documents
    assert (d1.text, d1.title) == ("Aspirin\n\nAspirin thins blood.", "Aspirin")
    assert (d2.text, d2.title) == ("Untitled abstract.", None)
    assert [q.id for q in dataset.questions] == ["q1", "q4"]
    q4 = dataset.questions[1]
    assert dict(q4.relevance) == {"d2": 2, "d1": 1}
    assert q4.doc_ids == ("d2", "d1")
    assert q4.answers == () and q4.answerable


def test_load_beir_limit_and_split(beir_folder: Path) -> None:
    assert [q.id for q in load_beir(beir_folder, split="test", limit_queries=1).questions] == ["q1"]
    with pytest.raises(DatasetError, match=r"no qrels/dev.tsv; choose a split from \['test'\]"):
        load_beir(beir_folder, split="dev")
    (beir_folder / "qrels" / "train.tsv").write_text("q1\td1\t1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="pass split= to choose"):
        load_beir(beir_folder)
    assert len(load_beir(beir_folder, split="train").questions) == 1  # no header line


def test_load_beir_rejects_bad_files(beir_folder: Path) -> None:
    qrels = beir_folder / "qrels" / "test.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1 d1 1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"test.tsv, line 2: expected 'query-id<TAB>"):
        load_beir(beir_folder)
    qrels.write_text("q1\td1\t1\n", encoding="utf-8")
    with (beir_folder / "corpus.jsonl").open("a", encoding="utf-8") as corpus:
        corpus.write('{"_id": "d4"}\n')
    with pytest.raises(DatasetError, match=r"corpus.jsonl, line 4: text: Field required"):
        load_beir(beir_folder)


def test_load_rgb_flattens_answers_and_shares_snippets(rgb_file: Path) -> None:
    dataset = load_rgb(rgb_file)
    assert (dataset.kind, dataset.has_answers) == ("rgb", True)
    ids = {doc.text: doc.doc_id for doc in dataset.documents}
    assert len(ids) == len(dataset.documents) == 5
    assert ids["Argentina won the 2022 final."] == "rgb000-pos0"
    assert ids["France won the 2022 final."] == "rgb000-wrong0"
    assert ids["The 2018 final was in Moscow."] == "rgb000-neg0"
    assert ids["The launch was on May 9, 2012."] == "rgb002-wrong0"
    final, launch = dataset.questions
    assert (final.id, final.answers, final.fake_answers) == ("rgb000", ("Argentina",), ("France",))
    assert final.doc_ids == ("rgb000-pos0",)
    assert launch.answers == ("Dec 1, 2017", "December 1, 2017")
    assert launch.fake_answers == ("May 9, 2012",)
    assert launch.doc_ids == ("rgb002-pos0", "rgb000-pos0")
    assert len(load_rgb(rgb_file, limit=1).questions) == 1


def test_load_rgb_rejects_a_row_without_positives(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rgb.jsonl", [{"id": 1, "query": "Q", "answer": "A"}])
    with pytest.raises(DatasetError, match="line 1: positive: Field required"):
        load_rgb(path)


def test_detect_format(
    squad_file: Path, beir_folder: Path, rgb_file: Path, gold_file: Path, tmp_path: Path
) -> None:
    assert detect_format(squad_file) == "squad"
    assert detect_format(beir_folder) == "beir"
    assert detect_format(rgb_file) == "rgb"
    assert detect_format(gold_file) == "gold"
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(DatasetError, match="unknown dataset type"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(DatasetError, match=r"without corpus\.jsonl"):
        detect_format(tmp_path)
    (tmp_path / "other.json").write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(DatasetError, match="without a 'data' list"):
        detect_format(tmp_path / "other.json")


def test_load_dataset_dispatches(
    squad_file: Path, beir_folder: Path, rgb_file: Path, gold_file: Path
) -> None:
    gold = load_dataset(gold_file)
    assert gold == Dataset("seeds", (), tuple(load_gold(gold_file)), "gold", has_answers=True)
    assert len(load_dataset(gold_file, limit=1).questions) == 1
    assert load_dataset(squad_file, limit=1).kind == "squad"
    assert load_dataset(beir_folder).kind == "beir"
    assert load_dataset(rgb_file, format="rgb").kind == "rgb"
    with pytest.raises(DatasetError, match="unknown dataset format 'csv'; use one of gold"):
        load_dataset(gold_file, format="csv")
    with pytest.raises(DatasetError, match="limit must be at least 1"):
        load_dataset(gold_file, limit=0)


needs_benchmarks = pytest.mark.skipif(
    not BENCHMARKS.is_dir(), reason=f"benchmarks not found at {BENCHMARKS}"
)


@needs_benchmarks
@pytest.mark.parametrize("name", ["squad-v1.1", "squadshifts-nyt"])
def test_real_squad_sets_load(name: str) -> None:
    dataset = load_dataset(BENCHMARKS / name / "dev.json", limit=3)
    assert dataset.kind == "squad" and dataset.documents and dataset.questions
    texts = {doc.doc_id: doc.text for doc in dataset.documents}
    for question in dataset.questions:
        assert question.answers
        assert all(answer in texts[question.doc_ids[0]] for answer in question.answers)
    if name == "squadshifts-nyt":
        assert all(doc.published and doc.url for doc in dataset.documents)


@needs_benchmarks
def test_real_beir_set_loads() -> None:
    dataset = load_dataset(BENCHMARKS / "scifact", limit=20)
    assert len(dataset.questions) == 20 and not dataset.has_answers
    doc_ids = {doc.doc_id for doc in dataset.documents}
    assert len(doc_ids) == len(dataset.documents) > 1000
    assert all(set(q.relevance) <= doc_ids and q.answerable for q in dataset.questions)


@needs_benchmarks
def test_real_rgb_set_loads() -> None:
    dataset = load_dataset(BENCHMARKS / "rgb-counterfactual" / "dev.jsonl")
    assert dataset.kind == "rgb" and len(dataset.questions) > 0
    texts = {doc.doc_id: doc.text.lower() for doc in dataset.documents}
    for question in dataset.questions:
        assert question.answers and question.fake_answers and question.doc_ids
        snippets = [texts[doc_id] for doc_id in question.doc_ids]
        assert any(answer.lower() in text for answer in question.answers for text in snippets)
