"""Calibrate the abstention threshold on data instead of guessing it.

    python -m eval.calibrate --squad ../shared/benchmarks/squadshifts-nyt/dev.json \\
        --limit 400 --out eval-out/calibration

Confidences are collected with abstention switched off from three kinds of questions:
the seed gold set (answerable and unanswerable), SQuAD-format questions against their own
corpus (answerable), and the same questions against the seed corpus, which cannot answer
them (unanswerable). The chosen threshold maximises the SQuAD 2.0 style objective: an
answered question scores its F1, an abstention scores 1 on an unanswerable question and 0
on an answerable one, among the thresholds that abstain on at most 5% of the answerable
questions (``--max-false-abstention``). Run it with the extractor to calibrate: the span
reader by default, ``CITEQA_READER=none`` for the model-free one.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from citeqa.config import Settings
from eval.datasets import Dataset, load_dataset, load_gold
from eval.predictions import LocalAnswerer
from eval.runner import CONFIGURATIONS, DEFAULT_CONFIGURATION, evaluate_configuration
from eval.runner import index_dir_for as dataset_index_dir

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Sample:
    confidence: float
    answerable: bool
    f1: float  # of the answer given at threshold 0 (0 for unanswerable questions)
    origin: str


def best_threshold(
    samples: list[Sample], grid: np.ndarray, max_false_abstention: float = 1.0
) -> tuple[float, float]:
    """The threshold with the highest mean score, and that score.

    Only thresholds that abstain on at most ``max_false_abstention`` of the answerable
    questions compete: a user who is told "not in the corpus" when it is there stops trusting
    every abstention.
    """
    best = (0.0, -1.0)
    answerable = [s for s in samples if s.answerable]
    for threshold in grid:
        if answerable and (
            np.mean([s.confidence < threshold for s in answerable]) > max_false_abstention
        ):
            continue
        score = np.mean(
            [
                (s.f1 if s.answerable else 0.0)
                if s.confidence >= threshold
                else (0.0 if s.answerable else 1.0)
                for s in samples
            ]
        )
        if score > best[1]:
            best = (float(threshold), float(score))
    return best


def _engine(settings: Settings, index_dir: Path):  # type: ignore[no-untyped-def]
    from service.state import load_engine

    return load_engine(
        settings.model_copy(update={"index_dir": index_dir, "abstain_threshold": 0.0})
    )


def _samples(dataset: Dataset, engine, origin: str, answerable: bool | None = None) -> list[Sample]:  # type: ignore[no-untyped-def]
    answerer = LocalAnswerer(engine, CONFIGURATIONS[DEFAULT_CONFIGURATION])
    result = evaluate_configuration(origin, dataset, answerer)
    return [
        Sample(
            s.confidence,
            s.answerable if answerable is None else answerable,
            (s.f1 or 0.0) if (s.answerable if answerable is None else answerable) else 0.0,
            origin,
        )
        for s in result.scores
    ]


def _sweep_table(samples: list[Sample], thresholds: npt.NDArray[np.float64]) -> Table:
    """At each threshold: the objective, and the shares answered and abstained on."""
    table = Table(title="abstention threshold calibration")
    for column in ("threshold", "objective", "answered (answerable)", "abstained (unanswerable)"):
        table.add_column(column, justify="right")
    for t in thresholds:
        answered = np.mean([s.confidence >= t for s in samples if s.answerable])
        abstained = np.mean([s.confidence < t for s in samples if not s.answerable])
        objective = best_threshold(samples, np.array([t]))[1]
        table.add_row(f"{t:.2f}", f"{objective:.3f}", f"{answered:.2f}", f"{abstained:.2f}")
    return table


def main() -> None:
    """Sweep the abstention threshold on gold and SQuAD questions and print the chosen one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=REPO / "eval" / "gold" / "seeds.jsonl")
    parser.add_argument("--corpus", type=Path, default=REPO / "seeds")
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("eval-out/calibration"))
    parser.add_argument(
        "--max-false-abstention",
        type=float,
        default=0.05,
        help="largest share of answerable questions the threshold may abstain on",
    )
    args = parser.parse_args()
    settings = Settings()
    from indexer.factory import make_writer

    seeds_dir = args.out / "indexes" / "seeds"
    make_writer(settings, seeds_dir, show_progress=True).build([args.corpus])
    seeds_engine = _engine(settings, seeds_dir)
    gold = Dataset("seeds", (), tuple(load_gold(args.gold)), "gold", has_answers=True)
    squad = load_dataset(args.squad, "squad")
    step = max(len(squad.questions) // args.limit, 1)
    squad = replace(squad, questions=squad.questions[::step][: args.limit])
    squad_dir = dataset_index_dir(squad, args.out, settings)
    make_writer(settings, squad_dir, show_progress=True).add_documents(list(squad.documents))
    samples = _samples(gold, seeds_engine, "seeds gold")
    samples += _samples(squad, _engine(settings, squad_dir), "squad, own corpus", True)
    off_corpus = replace(
        squad,
        questions=tuple(replace(q, answers=(), doc_ids=(), relevance={}) for q in squad.questions),
    )
    samples += _samples(off_corpus, seeds_engine, "squad, seed corpus", False)
    grid = np.round(np.arange(0.0, 1.0, 0.01), 2)
    threshold, score = best_threshold(samples, grid, args.max_false_abstention)
    Console().print(_sweep_table(samples, grid[::5]))
    unconstrained, unconstrained_score = best_threshold(samples, grid)
    Console().print(
        f"best threshold {threshold:.2f} (objective {score:.3f}) over {len(samples)} questions, "
        f"abstaining on at most {args.max_false_abstention:.0%} of answerable ones; without "
        f"that limit {unconstrained:.2f} ({unconstrained_score:.3f})"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    by_origin = {
        o: sum(s.origin == o for s in samples) for o in sorted({s.origin for s in samples})
    }
    summary = {
        "threshold": threshold,
        "objective": score,
        "samples": len(samples),
        "by_origin": by_origin,
        "max_false_abstention": args.max_false_abstention,
        "unconstrained_threshold": unconstrained,
    }
    (args.out / "calibration.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
