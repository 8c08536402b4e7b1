"""The files a training run leaves beside its weights: ``train_config.json`` and a card."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.train import TrainConfig, TrainReport


def write_run_files(
    report: TrainReport,
    config: TrainConfig,
    limit: int | None,
    scores: Mapping[str, Mapping[str, float | int]] | None = None,
) -> None:
    """Write ``train_config.json`` and ``MODEL_CARD.md`` beside the weights.

    ``scores`` maps a dev file to its gold-paragraph ``{questions, em, f1}`` (from
    ``citeqa reader train --dev``); without them the card says how to measure them.
    """
    record = {
        "recipe": asdict(config),
        "limit": limit,
        "base_model": report.base_model,
        "scores": dict(scores or {}),
    }
    text = json.dumps(record, indent=2) + "\n"
    (report.out_dir / "train_config.json").write_text(text, encoding="utf-8")
    card = model_card(report, config, limit, scores or {})
    (report.out_dir / "MODEL_CARD.md").write_text(card, encoding="utf-8")


def model_card(
    report: TrainReport,
    config: TrainConfig,
    limit: int | None,
    scores: Mapping[str, Mapping[str, float | int]],
) -> str:
    """The MODEL_CARD.md text: base model, data, recipe, run facts, scores and credit lines."""
    data_rows = "\n".join(f"| `{path}` | {count:,} |" for path, count in report.questions.items())
    recipe = "\n".join(f"- `{name}`: {value}" for name, value in asdict(config).items())
    subset = f"\n\nSmoke run: only the first {limit:,} questions.\n" if limit else "\n"
    return f"""# Extractive span reader trained by `citeqa reader train`

A BERT span reader (`BertForQuestionAnswering`) fine-tuned from this base model:
{report.base_model}.

A fresh linear head (hidden -> 2) scores every token as the answer's start and end; the
`[CLS]` token's start + end score is its "no answer in this passage" score. fp32 safetensors.
`citeqa reader export --model DIR --out DIR2` makes the ONNX model the service reads (fp16 weights;
ONNX Runtime derives its int8 reader from it at first use).

## Data
| file | questions |
|---|---:|
{data_rows}

Every question once with its own paragraph, and `negatives_per_question`
({config.negatives_per_question}) more times with other paragraphs of its article (1 to 4
places later, cycling, offsets drawn with the seed; none for one-paragraph articles), labelled
"no answer".{_mined(report, config)}
In all {report.examples:,} examples, {report.windows:,} windows. Questions dropped because no
answer text occurs in their paragraph: {report.unanchored}.{subset}
## Recipe
{recipe}

Question first, passage second, only the passage truncated; a window that does not hold the
whole answer is labelled "no answer" (start = end = `[CLS]`). AdamW (biases and LayerNorm
weights not decayed), linear warm-up over the first `warmup_ratio` of the steps then linear
decay to 0, gradient clipping at `max_grad_norm`, bf16 autocast on CUDA, fp32 on a CPU.
`max_answer_tokens` is for decoding: the longest span, in tokens.

## Run
- Seed: {config.seed}
- Device: {report.device}
- Steps: {report.steps:,} ({report.seconds_per_step:.2f} s per step)
- Wall time: {report.wall_seconds:.0f} s
- Final mean training loss (last epoch): {report.final_mean_loss:.4f}

{_scores_section(scores)}
## Licences and credit
- Base model: {report.base_model}.
- Training data: SQuADShifts v1.0, CC BY 4.0: Miller, Krauth, Recht, Schmidt, "The Effect of
  Natural Distribution Shift on Question Answering Models", ICML 2020; copied from BIG-bench
  1.0.0.
- BIG-bench canary: the training data is BIG-bench's `squad_shifts` task data. Do not use
  this model to report BIG-bench `squad_shifts` results.
"""


def _mined(report: TrainReport, config: TrainConfig) -> str:
    """The card's sentence on hard negatives, when the run read a mined file."""
    if not report.hard_negatives:
        return ""
    return (
        f" And `hard_negatives_per_question` ({config.hard_negatives_per_question}) more "
        "times with passages citeqa's retrieval gave it that do not hold its answer, from "
        f"`{report.hard_negatives}` (`citeqa reader mine`)."
    )


def _scores_section(scores: Mapping[str, Mapping[str, float | int]]) -> str:
    """The card's table of dev scores, or how to measure them."""
    rows = (
        "\n".join(
            f"| `{path}` | {s['questions']:,} | {s['em']:.3f} | {s['f1']:.3f} |"
            for path, s in scores.items()
        )
        or "| (not measured: `citeqa reader eval --dataset DEV --model DIR`) | | | |"
    )
    return f"""## Scores (gold paragraph given, SQuAD v1.1 normalisation)
| dev file | questions | EM | F1 |
|---|---:|---:|---:|
{rows}
"""
