"""Compare the shipped abstention weights with a refit, on articles the refit never saw.

    python -m eval.compare_abstention --squad ../shared/benchmarks/squadshifts-nyt/dev.json \\
        --out eval-out/abstention-halves

Every question is run under removal draws ``--fit-seeds`` and ``--test-seed`` with the
abstention model off, and the features of its answer are kept in ``OUT/minusP-seedN.jsonl`` (a
later run reuses them). The articles are split in two at random (``--split-seed``). For each
half, a model is fitted (as ``eval.calibrate_abstention`` fits) on that half's questions
under the fit draws, and it and the shipped weights are scored on the other half under the
test draw. The questions ``citeqa eval --limit 1000`` asks are left out of both, so neither
the refit nor the published eval figures overlap. ``--weights`` names the weights to
compare (for the refit of 2026-12-07, those of 811f991: ``git show
811f991:service/answering/abstention.json``). The table gives each model's AUC, its
abstention on unanswerable questions and answerable F1 at one operating point for both
(``--false-abstention`` of the answerable questions abstained on), and the same at the
threshold each would ship with.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from citeqa.config import READER_ABSTAIN_THRESHOLD, Settings
from eval.calibrate_abstention import (
    Sample,
    choose_threshold,
    collect,
    fit,
    outcome,
    probabilities,
)
from eval.datasets import Dataset, load_squad, remove_articles
from eval.datasets.dataset import spread_indices
from eval.datasets.removal import article_key
from service.answering.abstention import MODEL_PATH, load_model


def auc(samples: list[Sample], probability: npt.NDArray[np.float64]) -> float:
    """How often an answerable question outranks an unanswerable one (ties count half),
    over the questions the model has a say on.

    >>> rows = [Sample([0.0], True, 1.0, True), Sample([0.0], False, 0.0, True)]
    >>> auc(rows, np.array([0.9, 0.2])), auc(rows, np.array([0.2, 0.9]))
    (1.0, 0.0)
    """
    judged = np.array([s.features is not None for s in samples])
    answerable = np.array([s.answerable for s in samples])[judged]
    scores = probability[judged]
    high, low = scores[answerable], scores[~answerable]
    if not len(high) or not len(low):
        return float("nan")
    wins = (high[:, None] > low[None, :]).sum() + 0.5 * (high[:, None] == low[None, :]).sum()
    return float(wins / (len(high) * len(low)))


def halves(articles: list[str], seed: int) -> dict[str, int]:
    """Each article's half (0 or 1), drawn with ``seed``.

    >>> sorted(halves(["a", "b", "c", "d"], seed=7).values())
    [0, 0, 1, 1]
    """
    shuffled = sorted(articles)
    random.Random(seed).shuffle(shuffled)
    return {article: position % 2 for position, article in enumerate(shuffled)}


def _samples(full: Dataset, fraction: float, seed: int, out: Path) -> list[Sample]:
    """Every question's sample under removal draw ``seed``, from OUT's cache or run now."""
    cache = out / f"minus{round(fraction * 100)}-seed{seed}.jsonl"
    if cache.exists():
        rows = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines()]
        return [Sample(r["features"], r["answerable"], r["f1"], r["found"]) for r in rows]
    dataset = remove_articles(full, fraction, seed)
    samples = collect(dataset, Settings(), out)
    out.mkdir(parents=True, exist_ok=True)
    lines = (
        json.dumps({"id": q.id, **asdict(s)})
        for q, s in zip(dataset.questions, samples, strict=True)
    )
    cache.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return samples


def _rows(train: list[Sample], test: list[Sample], args: argparse.Namespace) -> list[list[str]]:
    """The compared weights and a refit on ``train``, each scored on ``test``."""
    weights, bias = fit(train)
    refit_threshold = choose_threshold(
        train, probabilities(train, weights, bias), args.max_false_abstention
    )
    given = load_model(args.weights)
    models = (
        (args.weights.name, np.array(given.weights), given.bias, args.threshold),
        (f"refit on {len(train)}", weights, bias, refit_threshold),
    )
    rows = []
    for name, w, b, threshold in models:
        probability = probabilities(test, w, b)
        point = choose_threshold(test, probability, args.false_abstention)
        same = outcome(test, probability >= point)
        own = outcome(test, probability >= threshold)
        rows.append(
            [
                name,
                f"{auc(test, probability):.3f}",
                f"{same['abstained_unanswerable']:.3f} / {same['f1_answerable']:.3f}",
                f"{threshold:.2f}: {own['abstained_unanswerable']:.3f} / "
                f"{own['abstained_answerable']:.3f} / {own['f1_answerable']:.3f}",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Fit on each half, score both models on the other, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--remove-articles", type=float, default=0.2)
    parser.add_argument("--fit-seeds", default="0,1")
    parser.add_argument("--test-seed", type=int, default=2)
    parser.add_argument("--split-seed", type=int, default=7)
    parser.add_argument("--hold-out", type=int, default=1000)
    parser.add_argument("--false-abstention", type=float, default=0.065)
    parser.add_argument("--max-false-abstention", type=float, default=0.07)
    parser.add_argument("--out", type=Path, default=Path("eval-out/abstention-halves"))
    parser.add_argument(
        "--weights", type=Path, default=MODEL_PATH, help="Weights to compare (default: shipped)."
    )
    parser.add_argument("--threshold", type=float, default=READER_ABSTAIN_THRESHOLD)
    args = parser.parse_args(argv)
    full = load_squad(args.squad)
    documents = {d.doc_id: d for d in full.documents}
    article = [article_key(documents[q.doc_ids[0]]) for q in full.questions]
    half = halves(list(set(article)), args.split_seed)
    asked = set(spread_indices(len(full.questions), args.hold_out))
    draws = [int(s) for s in args.fit_seeds.split(",")]
    samples = {
        seed: _samples(full, args.remove_articles, seed, args.out)
        for seed in [*draws, args.test_seed]
    }
    table = Table(
        "test half",
        "model",
        "AUC",
        f"at {args.false_abstention:.1%} false abst.: abst. unans. / F1",
        "at its threshold: abst. unans. / false abst. / F1",
    )
    for fitted in (0, 1):
        # Fitted on this half under the fit draws, scored on the other under the test draw.
        in_half = [i not in asked and half[a] == fitted for i, a in enumerate(article)]
        other = [i not in asked and half[a] != fitted for i, a in enumerate(article)]
        train = [
            s for seed in draws for s, keep in zip(samples[seed], in_half, strict=True) if keep
        ]
        test = [s for s, keep in zip(samples[args.test_seed], other, strict=True) if keep]
        for row in _rows(train, test, args):
            table.add_row(f"{1 - fitted} ({len(test)} q)", *row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
