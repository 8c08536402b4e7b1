"""Are the scale benchmark's synthetic vectors as hard to search as real ones?

Approximate search is only as good as the lists it probes, and how many lists a query must
probe depends on how its neighbours are spread: tight synthetic clusters put all ten in one
list and flatter the index. This bench compares the recall-by-lists-probed curve of real
vectors with that of synthetic vectors of the same size, searched by the same real questions:

- **real**: all-MiniLM-L6-v2 embeddings of training text (eval/bench/real_vectors.py: every
  paragraph, then sentences drawn at random up to ``--size``), and questions embedded as
  queries;
- **synthetic**: the scale benchmark's model (eval/bench/synthetic.py), ``normalise(centre +
  noise)`` around ``centres`` real sentence vectors, for each ``--noise`` given.

Each set gets its own ``IVF{lists},Flat`` (exact within a list, so only probing loses
neighbours), trained on itself; recall@10 is against exact search. A synthetic setting is
valid where its curve lies within ``--tolerance`` of the real one at every point.

    python -m eval.bench.vector_validation --size 26800 --noise 0.04,0.06,0.08
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from citeqa.config import Settings
from eval.bench.real_vectors import TRAINING, real_embeddings
from eval.bench.synthetic import normalise
from indexer.embedding import Vectors

REPO = Path(__file__).resolve().parents[2]
PROBES = (1, 2, 4, 8, 16, 32, 64, 128)
RECALL_K = 10


@dataclass(frozen=True)
class Curve:
    """Recall@10 at each number of lists probed, for one set of vectors."""

    name: str
    recall: tuple[float, ...]

    def distance(self, other: Curve) -> float:
        """The largest gap between the two curves at any point."""
        return max(abs(a - b) for a, b in zip(self.recall, other.recall, strict=True))


def recall_curve(
    name: str, vectors: Vectors, queries: Vectors, lists: int, probes: Sequence[int]
) -> Curve:
    """Recall@10 of ``IVF{lists},Flat`` against exact search, at each of ``probes``."""
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, RECALL_K)
    index = faiss.index_factory(vectors.shape[1], f"IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add(vectors)
    recall = []
    for probe in probes:
        faiss.extract_index_ivf(index).nprobe = probe
        _, found = index.search(queries, RECALL_K)
        hits = [len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True)]
        recall.append(float(np.mean(hits)) / RECALL_K)
    return Curve(name, tuple(recall))


def synthetic_vectors(
    sentences: Vectors, size: int, centres: int, noise: float, seed: int
) -> Vectors:
    """The scale benchmark's vectors: ``normalise(centre + noise)`` around real sentences."""
    rng = np.random.default_rng(seed)
    picked = sentences[rng.choice(len(sentences), size=min(centres, len(sentences)), replace=False)]
    around = picked[rng.integers(len(picked), size=size)]
    return normalise(around + rng.standard_normal(around.shape).astype(np.float32) * noise)


def real_sample(
    size: int, cache_dir: Path, training: Path, seed: int
) -> tuple[Vectors, Vectors, Vectors]:
    """Real passages (every paragraph, then random sentences), all sentences, and queries."""
    real = real_embeddings(cache_dir, Settings(), training)
    paragraphs, sentences = real.passages[: real.paragraphs], real.passages[real.paragraphs :]
    extra = max(0, size - len(paragraphs))
    drawn = np.random.default_rng(seed).choice(len(sentences), size=extra, replace=False)
    passages = np.ascontiguousarray(np.vstack([paragraphs, sentences[np.sort(drawn)]])[:size])
    return passages, sentences, np.ascontiguousarray(real.queries)


def validate(options: argparse.Namespace) -> tuple[Curve, list[Curve]]:
    """The real curve, then one synthetic curve per noise level."""
    passages, sentences, queries = real_sample(
        options.size, options.cache_dir, options.training, options.seed
    )
    probes = [p for p in PROBES if p <= options.lists]
    real = recall_curve("real", passages, queries, options.lists, probes)
    synthetic = [
        recall_curve(
            f"synthetic noise={noise:g} centres={options.centres}",
            synthetic_vectors(sentences, len(passages), options.centres, noise, options.seed),
            queries,
            options.lists,
            probes,
        )
        for noise in options.noise
    ]
    return real, synthetic


def _table(real: Curve, synthetic: list[Curve], probes: Sequence[int], tolerance: float) -> str:
    head = "| vectors | " + " | ".join(f"nprobe {p}" for p in probes) + " | max gap | valid |"
    rule = "|---|" + "---:|" * (len(probes) + 2)
    rows = [head, rule]
    for curve in [real, *synthetic]:
        gap = curve.distance(real)
        verdict = "" if curve is real else ("yes" if gap <= tolerance else "no")
        cells = " | ".join(f"{r:.3f}" for r in curve.recall)
        rows.append(f"| {curve.name} | {cells} | {gap:.3f} | {verdict} |")
    return "\n".join(rows)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=26_800, help="Vectors in each set.")
    parser.add_argument("--lists", type=int, default=256, help="IVF lists.")
    parser.add_argument("--centres", type=int, default=2000, help="Real sentences as centres.")
    parser.add_argument(
        "--noise",
        type=lambda text: [float(v) for v in text.split(",")],
        default=[0.04],
        help="Per-dimension noise levels to try, comma-separated.",
    )
    parser.add_argument("--tolerance", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--training", type=Path, default=TRAINING, help="SQuAD-format files.")
    parser.add_argument("--cache-dir", type=Path, default=REPO / "data" / "bench-cache")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Print the curves as a Markdown table; exit 1 if no synthetic setting is valid."""
    options = _parse(argv)
    faiss.omp_set_num_threads(1)
    real, synthetic = validate(options)
    probes = [p for p in PROBES if p <= options.lists]
    print(_table(real, synthetic, probes, options.tolerance))
    if not any(curve.distance(real) <= options.tolerance for curve in synthetic):
        sys.exit(1)


if __name__ == "__main__":
    main()
