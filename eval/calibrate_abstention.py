"""Fit the abstention model and its threshold on an open-corpus set with articles removed.

    python -m eval.calibrate_abstention --squad ../shared/benchmarks/squadshifts-nyt/dev.json \\
        --remove-articles 0.2 --seeds 0,1 --hold-out 1000 --out eval-out/abstention --write

For each seed, a fifth of the articles (``--remove-articles``) leave the corpus, so the
questions about them have no answer in it; the rest must still be answered. The questions
that ``citeqa eval --limit 1000`` asks are left out (``--hold-out``), so that evaluation, on a
removal draw not fitted on (``--seed 2``), is on questions the model never saw. Every question is
run once with the abstention model switched off, and the features of its answer
(service/answering/abstention.py) are fitted by L2-regularised logistic regression to
"the corpus holds the answer". The threshold printed is the one that abstains most on the
unanswerable questions while abstaining on at most ``--max-false-abstention`` of the
answerable ones. ``--write`` stores the weights and that threshold in
``service/answering/abstention.json`` for the shipped reader, or in the folder of the reader
``CITEQA_READER_MODEL`` names (its ``abstention.json``, which the service reads with that
reader). ``CITEQA_ABSTAIN_THRESHOLD`` overrides the threshold. Report the dev numbers this
prints as calibrated-on.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from citeqa.config import Settings
from eval.datasets import Dataset, held_out, load_squad, remove_articles, spread
from eval.metrics import token_f1
from eval.runner import CONFIGURATIONS, DEFAULT_CONFIGURATION, index_dir_for
from service.answering.abstention import FEATURES, calibration_file, calibration_for, load_model

console = Console(stderr=True)


@dataclass(frozen=True)
class Sample:
    features: list[float] | None  # None: the model has no say (see ``found``)
    answerable: bool
    f1: float  # of the answer found (0 for unanswerable questions)
    found: bool  # an answer was found (without features: a byline date or a sentence)


def collect(dataset: Dataset, settings: Settings, out: Path) -> list[Sample]:
    """Run every question without abstention and keep its answer's features."""
    from indexer.factory import make_writer
    from service.state import load_engine

    index_dir = index_dir_for(dataset, out, settings)
    make_writer(settings, index_dir, show_progress=True).add_documents(list(dataset.documents))
    engine = load_engine(settings.model_copy(update={"index_dir": index_dir}))
    engine.abstention = None  # features are read, not judged: every answer is kept
    options = CONFIGURATIONS[DEFAULT_CONFIGURATION]
    samples = []
    with Progress(console=console) as progress:
        task = progress.add_task(dataset.name, total=len(dataset.questions))
        for question in dataset.questions:
            found = engine.find(question.question, top_k=5, options=options)
            answer = found.aggregate.answer
            f1 = token_f1(answer.text, question.answers) if answer and question.answers else 0.0
            row = engine.abstention_features(question.question, found)
            samples.append(Sample(row, question.answerable, f1, answer is not None))
            progress.advance(task)
    return samples


def fit(
    samples: list[Sample], l2: float = 10.0, steps: int = 4000
) -> tuple[npt.NDArray[np.float64], float]:
    """Logistic weights (on the raw features) and bias, by gradient descent on standardised
    features."""
    rows = [s for s in samples if s.features is not None]
    x = np.array([s.features for s in rows], dtype=float)
    y = np.array([float(s.answerable) for s in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    weights, bias = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ weights + bias)))
        weights -= 0.5 * (z.T @ (p - y) + l2 * weights) / len(y)
        bias -= 0.5 * float((p - y).mean())
    raw = weights / scale
    return raw, float(bias - (weights * mean / scale).sum())


def probabilities(
    samples: list[Sample], weights: npt.NDArray[np.float64], bias: float
) -> npt.NDArray[np.float64]:
    """Each sample's probability that the corpus answers it; where the model has no say,
    -1 (nothing found: abstained at any threshold) or 2 (answered at any threshold)."""
    return np.array(
        [
            (2.0 if s.found else -1.0)
            if s.features is None
            else 1 / (1 + np.exp(-(float(weights @ s.features) + bias)))
            for s in samples
        ]
    )


def outcome(samples: list[Sample], answered: npt.NDArray[np.bool_]) -> dict[str, float]:
    """Abstention on unanswerable and answerable questions, and F1 on answerable ones."""
    answerable = np.array([s.answerable for s in samples])
    f1 = np.array([s.f1 for s in samples])
    return {
        "abstained_unanswerable": float((~answered[~answerable]).mean()),
        "abstained_answerable": float((~answered[answerable]).mean()),
        "f1_answerable": float((f1 * answered)[answerable].mean()),
    }


def choose_threshold(
    samples: list[Sample], probability: npt.NDArray[np.float64], max_false_abstention: float
) -> float:
    """The highest threshold that abstains on at most ``max_false_abstention`` of the
    answerable questions (so it abstains on as many unanswerable ones as it can)."""
    best = 0.0
    for threshold in np.round(np.arange(0.0, 1.0, 0.01), 2):
        scores = outcome(samples, probability >= threshold)
        if scores["abstained_answerable"] <= max_false_abstention:
            best = float(threshold)
    return best


def weights_file(settings: Settings) -> Path:
    """Where --write puts the weights: beside the shipped model, or in the folder of the
    reader the settings name, whose scores they were fitted on."""
    return calibration_file(settings.resolved_reader_model())


def _replace_unfit_model(path: Path) -> None:
    """A weights file fitted for other features stops the engine loading; it is of no use
    for them either, so a neutral one (all weights 0) stands in while features are read."""
    try:
        load_model(calibration_for(path.parent))
    except ValueError as error:
        console.print(f"{error}: a neutral model stands in until --write")
        neutral = {"features": list(FEATURES), "weights": [0.0] * len(FEATURES), "bias": 0.0}
        path.write_text(json.dumps(neutral, indent=2) + "\n", encoding="utf-8")
        load_model.cache_clear()


def main(argv: list[str] | None = None) -> None:
    """Fit, print the outcome per threshold, and write the weights with --write."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--remove-articles", type=float, default=0.2)
    parser.add_argument("--seeds", default="0,1", help="Removal draws to fit on.")
    parser.add_argument(
        "--hold-out",
        type=int,
        default=1000,
        help="Leave out the questions `citeqa eval --limit N` asks (0: leave none out).",
    )
    parser.add_argument("--limit", type=int, default=None, help="Then fit on N of the rest.")
    parser.add_argument("--max-false-abstention", type=float, default=0.07)
    parser.add_argument("--out", type=Path, default=Path("eval-out/abstention"))
    parser.add_argument(
        "--write", action="store_true", help="Write the weights for CITEQA_READER_MODEL's reader."
    )
    args = parser.parse_args(argv)
    settings = Settings()
    target = weights_file(settings)
    _replace_unfit_model(target)
    full = load_squad(args.squad)
    samples: list[Sample] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        dataset = remove_articles(full, args.remove_articles, seed)
        if args.hold_out:
            dataset = held_out(dataset, args.hold_out)
        dataset = spread(dataset, args.limit)
        samples.extend(collect(dataset, settings, args.out))
    weights, bias = fit(samples)
    probability = probabilities(samples, weights, bias)
    threshold = choose_threshold(samples, probability, args.max_false_abstention)
    table = Table("threshold", "abstained unanswerable", "abstained answerable", "F1 answerable")
    for candidate in sorted({0.0, 0.3, 0.4, 0.5, threshold, 0.6, 0.7}):
        scores = outcome(samples, probability >= candidate)
        mark = " (chosen)" if candidate == threshold else ""
        table.add_row(f"{candidate:.2f}{mark}", *(f"{v:.3f}" for v in scores.values()))
    Console(width=120).print(table)
    console.print(f"weights: {dict(zip(FEATURES, np.round(weights, 4).tolist(), strict=True))}")
    console.print(f"bias {bias:.4f}; threshold {threshold:.2f} on {len(samples)} questions")
    if args.write:
        model = {
            "features": list(FEATURES),
            "weights": [round(float(w), 6) for w in weights],
            "bias": round(bias, 6),
            "calibrated_threshold": threshold,
            "calibrated_on": f"{args.squad.name}, {args.remove_articles:.0%} of articles "
            f"removed, seeds {args.seeds}, {len(samples)} questions, the {args.hold_out} "
            "that citeqa eval --limit asks left out",
        }
        target.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
        load_model.cache_clear()
        console.print(f"wrote {target}")


if __name__ == "__main__":
    main()
