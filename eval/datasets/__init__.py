"""Load evaluation sets (project gold JSONL, SQuAD v1.1, BEIR, RGB) into one `Dataset` type.

Every loader validates the file at the edge with pydantic and raises `DatasetError` naming
the file (and line, for JSONL) and what to fix. Benchmark files are read in place: the
harness takes a path, nothing is copied into the repository.
"""

from eval.datasets.beir import load_beir
from eval.datasets.dataset import (
    FORMATS,
    RETRIEVAL_ONLY,
    Dataset,
    GoldQuestion,
    held_out,
    spread,
)
from eval.datasets.detect import detect_format, load_dataset
from eval.datasets.gold import load_gold
from eval.datasets.removal import remove_articles
from eval.datasets.rgb import load_rgb
from eval.datasets.squad import load_squad

__all__ = [
    "FORMATS",
    "RETRIEVAL_ONLY",
    "Dataset",
    "GoldQuestion",
    "detect_format",
    "held_out",
    "load_beir",
    "load_dataset",
    "load_gold",
    "load_rgb",
    "load_squad",
    "remove_articles",
    "spread",
]
