"""Hard negatives: mined from citeqa's own retrieval, read back, and trained on as no-answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citeqa.config import Settings
from citeqa.reader_cli import reader_app
from service.reading.errors import ReaderError
from training.hard_negatives import holds_answer, mine_negatives, read_negatives
from training.labels import load_squad
from training.train import TrainConfig, load_training_files, train_reader, training_examples

# Three short news paragraphs on one subject: retrieval ranks the others high for each
# question, and only the question's own paragraph holds its answer.
PARAGRAPHS = {
    "Mexico extradited 37 cartel members to the United States on Tuesday, the third such "
    "transfer this year.": ("How many cartel members did Mexico extradite on Tuesday?", "37"),
    "Mexico's president Claudia Sheinbaum said the transfer was a sovereign decision taken by "
    "the National Security Council.": ("Who is Mexico's president?", "Claudia Sheinbaum"),
    "US Attorney General Pam Bondi praised the cartel transfer as another landmark "
    "achievement for the United States.": ("Who praised the transfer?", "Pam Bondi"),
}


def _squad(path: Path) -> Path:
    paragraphs = [
        {
            "context": context,
            "qas": [
                {
                    "id": f"q{number}",
                    "question": question,
                    "answers": [{"text": answer, "answer_start": context.index(answer)}],
                }
            ],
        }
        for number, (context, (question, answer)) in enumerate(PARAGRAPHS.items())
    ]
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": paragraphs}]}), "utf-8")
    return path


def _rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("context", "answer", "held"),
    [
        ("Claudia Sheinbaum said so.", "claudia  sheinbaum", True),
        ("Claudia Sheinbaum said so.", "Sheinbaum said", True),
        ("Sheinbaum, Claudia.", "Claudia Sheinbaum", False),
        ("It cost $37,000.", "37", True),  # "37" is a word of "37,000": the passage may answer
        ("It cost 370.", "37", False),
        ("anything", "", False),
    ],
)
def test_a_passage_holds_an_answer_by_its_whole_words(
    context: str, answer: str, held: bool
) -> None:
    assert holds_answer(context, answer) is held


def test_negatives_are_read_back_in_rank_order(tmp_path: Path) -> None:
    path = _rows(
        tmp_path / "n.jsonl",
        [
            {"id": "a", "question": "?", "rank": 2, "doc_id": "d2", "context": "third"},
            {"id": "a", "question": "?", "rank": 0, "doc_id": "d0", "context": "first"},
            {"id": "b", "question": "?", "rank": 1, "doc_id": "d1", "context": "only"},
        ],
    )

    assert read_negatives(path) == {"a": ["first", "third"], "b": ["only"]}


def test_a_damaged_negatives_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text('{"id": "a", "rank": 0, "context": "x"}\n{"id": "b"}\n', encoding="utf-8")

    with pytest.raises(ReaderError, match=r"n\.jsonl:2: not a hard-negative row"):
        read_negatives(path)
    with pytest.raises(ReaderError, match="cannot read hard negatives"):
        read_negatives(tmp_path / "absent.jsonl")


def test_mined_contexts_join_the_training_examples_as_no_answers(tmp_path: Path) -> None:
    files = load_training_files([_squad(tmp_path / "train.json")])
    config = TrainConfig(negatives_per_question=0, hard_negatives_per_question=1)
    hard = {"q0": ["Bondi praised it.", "Sheinbaum said so."], "q2": ["Nothing here."]}

    examples = training_examples(files, config, hard)

    mined = [e for e in examples if "#hard" in e.id]
    assert [(e.id, e.context) for e in mined] == [
        ("q0#hard0", "Bondi praised it."),
        ("q2#hard0", "Nothing here."),
    ]
    assert all(e.answer_start is None and e.answer_text == "" for e in mined)
    assert len(examples) == 3 + 2  # every question once with its paragraph, plus the mined


def test_train_reader_reads_the_mined_file_and_says_so_in_its_card(
    base_model_dir: Path, tmp_path: Path
) -> None:
    # Words of the tiny model's vocabulary (tests/tiny_bert.py), so windows stay short.
    context = "ann ran home and bob sat ."
    qas = [{"id": "q", "question": "who ran?", "answers": [{"text": "ann", "answer_start": 0}]}]
    squad = tmp_path / "train.json"
    squad.write_text(
        json.dumps({"data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}),
        encoding="utf-8",
    )
    hard = _rows(
        tmp_path / "negatives.jsonl",
        [{"id": "q", "question": "?", "rank": 0, "doc_id": "0000-001", "context": "bob sat ."}],
    )
    config = TrainConfig(max_length=64, stride=16, epochs=1, negatives_per_question=0)

    report = train_reader(
        [squad], tmp_path / "reader", config, base_model_dir, False, hard_negatives=hard
    )

    assert report.examples == 1 + 1 and report.hard_negatives == str(hard)
    card = (tmp_path / "reader" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert str(hard) in card.replace("\n", " ") and "citeqa reader mine" in card


@pytest.mark.slow
def test_mining_keeps_the_read_passages_without_the_answer(
    tmp_path: Path, settings: Settings
) -> None:
    squad = _squad(tmp_path / "train.json")
    out = tmp_path / "negatives.jsonl"

    report = mine_negatives(
        load_training_files([squad]), out, tmp_path / "work", settings, show_progress=False
    )

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    answers = {
        q.id: q.answer_text for a in load_squad(squad).articles for p in a for q in p.questions
    }
    assert report.questions == 3 and report.negatives == len(rows)
    # Three paragraphs, three passages read: each question's other two come back.
    assert report.negatives == 6 and report.none_found == 0
    for row in rows:
        assert not holds_answer(str(row["context"]), answers[str(row["id"])])
        assert row["context"] in PARAGRAPHS and PARAGRAPHS[row["context"]][1] != answers[row["id"]]
    # A second run reuses the paragraph index and writes the same file.
    first = out.read_text(encoding="utf-8")
    mine_negatives(
        load_training_files([squad]), out, tmp_path / "work", settings, show_progress=False
    )
    assert out.read_text(encoding="utf-8") == first


def test_cli_mine_reports_a_missing_data_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        reader_app, ["mine", "--data", str(tmp_path / "absent.json"), "--out", "x.jsonl"]
    )

    assert result.exit_code == 1 and "training data file not found" in result.output
