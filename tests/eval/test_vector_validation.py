"""The synthetic-vector validation's recall curve, on small random sets."""

from __future__ import annotations

import numpy as np

from eval.bench.synthetic import normalise
from eval.bench.vector_validation import Curve, recall_curve, synthetic_vectors


def test_probing_every_list_finds_the_exact_neighbours() -> None:
    rng = np.random.default_rng(0)
    vectors = normalise(rng.standard_normal((2000, 16)))
    queries = normalise(rng.standard_normal((50, 16)))
    curve = recall_curve("random", vectors, queries, lists=16, probes=[1, 4, 16])
    assert curve.recall[-1] == 1.0
    assert curve.recall[0] < curve.recall[1] <= curve.recall[2]


def test_tight_clusters_flatter_the_index_more_than_loose_ones() -> None:
    rng = np.random.default_rng(1)
    centres = normalise(rng.standard_normal((200, 32)))
    queries = normalise(centres[:40] + 0.05 * rng.standard_normal((40, 32)))
    tight = synthetic_vectors(centres, 4000, centres=20, noise=0.02, seed=0)
    loose = synthetic_vectors(centres, 4000, centres=200, noise=0.3, seed=0)
    tight_curve = recall_curve("tight", tight, queries, lists=32, probes=[1])
    loose_curve = recall_curve("loose", loose, queries, lists=32, probes=[1])
    assert tight_curve.recall[0] > loose_curve.recall[0]


def test_distance_is_the_largest_gap() -> None:
    gap = Curve("a", (0.5, 0.9)).distance(Curve("b", (0.45, 0.98)))
    assert abs(gap - 0.08) < 1e-9
