"""Training plumbing on a tiny random BERT: one step, save, reload, card; and the CLI's errors."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer
from typer.testing import CliRunner

from citeqa.reader_cli import reader_app
from service.reading.errors import ReaderError
from training.labels import build_features
from training.train import (
    TrainConfig,
    describe_base_model,
    fit,
    load_base_model,
    load_training_files,
    packaged_base_model,
    save_reader,
    train_reader,
    training_examples,
)

# Small windows keep the tiny model fast; no warm-up so that one step moves the weights.
TINY = TrainConfig(max_length=64, stride=16, batch_size=32, epochs=1, warmup_ratio=0.0)
CONTEXTS = [
    "the zebra crossed the river at dawn , said the ranger .",
    "the city council met on monday .",
    "ann ran home and bob sat .",
]


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    """One article of three paragraphs, two questions each."""
    answers = [("zebra", "river"), ("council", "monday"), ("ann", "bob")]
    paragraphs = []
    for context, words in zip(CONTEXTS, answers, strict=True):
        qas = [
            {
                "id": f"{word}-id",
                "question": f"who {word}?",
                "answers": [{"text": word, "answer_start": context.index(word)}],
            }
            for word in words
        ]
        paragraphs.append({"context": context, "qas": qas})
    path = tmp_path / "train.json"
    data = {"version": "1.0", "data": [{"title": "t", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _logits(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        output = model(**batch)
    return torch.stack([output.start_logits, output.end_logits])


def test_one_step_trains_saves_and_reloads_with_the_same_logits(
    base_model_dir: Path, squad_file: Path, tmp_path: Path
) -> None:
    files = load_training_files([squad_file])
    examples = training_examples(files, TINY)
    model, tokenizer = load_base_model(base_model_dir, TINY.seed)
    features = build_features(tokenizer, examples, TINY.max_length, TINY.stride)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    result = fit(model, features, TINY, torch.device("cpu"))
    save_reader(model, tokenizer, tmp_path / "reader")

    assert len(examples) == 12 and len(result.losses) == 1  # 6 questions + 6 negatives
    assert result.final_mean_loss > 0
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert "qa_outputs.weight" in changed and len(changed) == len(before)
    assert (tmp_path / "reader" / "tokenizer.json").is_file()
    assert (tmp_path / "reader" / "model.safetensors").is_file()
    loaded = AutoModelForQuestionAnswering.from_pretrained(
        tmp_path / "reader", local_files_only=True
    ).eval()
    batch = {
        "input_ids": torch.from_numpy(features.input_ids).long(),
        "attention_mask": torch.from_numpy(features.attention_mask).long(),
        "token_type_ids": torch.from_numpy(features.token_type_ids).long(),
    }
    torch.testing.assert_close(_logits(loaded, batch), _logits(model, batch))
    reloaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "reader", local_files_only=True)
    assert reloaded_tokenizer(CONTEXTS[0])["input_ids"] == tokenizer(CONTEXTS[0])["input_ids"]


def test_training_is_deterministic_for_a_seed(base_model_dir: Path, squad_file: Path) -> None:
    config = TrainConfig(max_length=64, stride=16, batch_size=4, epochs=1)
    examples = training_examples(load_training_files([squad_file]), config)
    runs = []
    for _ in range(2):
        model, tokenizer = load_base_model(base_model_dir, config.seed)
        features = build_features(tokenizer, examples, config.max_length, config.stride)
        runs.append(fit(model, features, config, torch.device("cpu")).losses)

    assert len(runs[0]) == 3 and runs[0] == runs[1]


def test_train_reader_writes_card_and_config(
    base_model_dir: Path, squad_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reader"

    report = train_reader([squad_file], out, TINY, base_model_dir, show_progress=False, limit=4)

    assert report.questions == {str(squad_file): 4}
    assert report.examples == 8 and report.steps == 1 and report.device.startswith("cpu")
    recorded = json.loads((out / "train_config.json").read_text(encoding="utf-8"))
    assert recorded["recipe"] == asdict(TINY) and recorded["limit"] == 4
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    for name, value in asdict(TINY).items():
        assert f"`{name}`: {value}" in card
    for credit in ["SQuADShifts", "Miller", "ICML 2020", "CC BY 4.0", "`squad_shifts`"]:
        assert credit in card
    assert str(squad_file) in card and "| 4 |" in card
    assert f"{report.final_mean_loss:.4f}" in card
    assert "citeqa reader export" in card
    model = AutoModelForQuestionAnswering.from_pretrained(out, local_files_only=True)
    assert model.config.architectures == ["BertForQuestionAnswering"]


def test_default_config_is_the_reference_recipe() -> None:
    assert asdict(TrainConfig()) == {
        "negatives_per_question": 1,
        "hard_negatives_per_question": 1,
        "max_length": 384,
        "stride": 128,
        "learning_rate": 1e-4,
        "weight_decay": 0.01,
        "warmup_ratio": 0.1,
        "batch_size": 32,
        "epochs": 2,
        "max_grad_norm": 1.0,
        "seed": 0,
        "max_answer_tokens": 30,
    }
    with pytest.raises(ReaderError, match="stride"):
        TrainConfig(max_length=128, stride=128)


def test_packaged_base_model_is_credited() -> None:
    description = describe_base_model(packaged_base_model())

    assert "all-MiniLM-L6-v2" in description and "Apache-2.0" in description


def test_cli_reports_a_missing_data_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"

    result = CliRunner().invoke(
        reader_app, ["train", "--data", str(missing), "--out", str(tmp_path / "out")]
    )

    assert result.exit_code == 1
    # Rich wraps at 80 columns under the runner and may fold the long temporary path.
    assert "training data file not found" in result.output
    assert str(missing) in result.output.replace("\n", "")
    assert not (tmp_path / "out").exists()


def test_cli_reports_an_empty_data_set(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"version": "1.0", "data": []}), encoding="utf-8")

    result = CliRunner().invoke(
        reader_app, ["train", "--data", str(empty), "--out", str(tmp_path / "out")]
    )

    assert result.exit_code == 1
    assert "holds no answerable question" in result.output


def test_cli_scores_dev_files_into_the_card(
    base_model_dir: Path, squad_file: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from citeqa.cli import app

    out = tmp_path / "reader"
    result = CliRunner().invoke(
        app,
        [
            "reader",
            "train",
            "--data",
            str(squad_file),
            "--out",
            str(out),
            "--dev",
            str(squad_file),
            "--base-model",
            str(base_model_dir),
            "--max-length",
            "64",
            "--stride",
            "16",
            "--epochs",
            "1",
            "--warmup-ratio",
            "0",
        ],
    )

    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "train_config.json").read_text(encoding="utf-8"))
    scores = recorded["scores"][str(squad_file)]
    assert scores["questions"] == 6 and 0.0 <= scores["f1"] <= 1.0
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"| `{squad_file}` | 6 | {scores['em']:.3f} | {scores['f1']:.3f} |" in card
