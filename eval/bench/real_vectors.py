"""Real embeddings of training text, and synthetic vectors drawn around them, for benches.

The texts are the SQuADShifts training files in ``../shared/training`` (paragraphs of
reviews, Reddit posts and recent Wikipedia articles, with crowd-written questions): not
benchmark data. Embedding them takes minutes on two cores, so the vectors are cached.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from citeqa.config import Settings
from indexer.embedding import Vectors

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO.parent / "shared" / "training"
# Questions embedded (and cached) at once; a bench asks as many of them as it needs.
QUESTIONS = 1000
# Sentences shorter than this are headings and fragments, not passages anyone retrieves.
MIN_SENTENCE_WORDS = 5
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])")
BLOCK = 100_000


@dataclass(frozen=True)
class RealTexts:
    """The training files' paragraphs, their sentences, and their questions."""

    paragraphs: list[str]
    sentences: list[str]
    questions: list[str]


@dataclass(frozen=True, eq=False)
class RealVectors:
    """Passages' vectors (the paragraphs first, then the sentences) and questions' vectors."""

    passages: Vectors
    queries: Vectors
    paragraphs: int  # the first rows of ``passages`` that are whole paragraphs


def real_texts(training: Path = TRAINING) -> RealTexts:
    """Paragraphs, sentences of five words or more, and questions of the SQuAD-format files."""
    paragraphs: list[str] = []
    questions: list[str] = []
    for path in sorted(training.glob("*/train.json")):
        for article in json.loads(path.read_text())["data"]:
            for paragraph in article["paragraphs"]:
                paragraphs.append(paragraph["context"])
                questions.extend(qa["question"] for qa in paragraph["qas"])
    sentences = [
        sentence
        for paragraph in paragraphs
        for sentence in _SENTENCE_END.split(paragraph)
        if len(sentence.split()) >= MIN_SENTENCE_WORDS
    ]
    return RealTexts(paragraphs, sentences, questions)


def real_embeddings(
    cache_dir: Path, settings: Settings | None = None, training: Path = TRAINING
) -> RealVectors:
    """Embeddings of the passages and of 1,000 questions drawn at random (seed 0).

    Questions are embedded as queries, the way the service embeds them. The vectors are
    kept in ``cache_dir``, keyed by the embedding backend and the texts.
    """
    settings = settings or Settings()
    texts = real_texts(training)
    passages = texts.paragraphs + texts.sentences
    picked = np.random.default_rng(0).choice(len(texts.questions), size=QUESTIONS, replace=False)
    asked = [texts.questions[i] for i in sorted(picked)]
    digest = hashlib.sha1("\n".join(passages + asked).encode()).hexdigest()[:12]
    path = cache_dir / f"real-{settings.embed_backend}-{digest}.npz"
    if not path.exists():
        from indexer.factory import make_embedder

        embedder = make_embedder(settings)
        corpus = embedder.encode_documents(passages)
        queries = np.vstack([embedder.encode_query(text) for text in asked])
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, passages=corpus, queries=queries)
    cached = np.load(path)
    return RealVectors(cached["passages"], cached["queries"], len(texts.paragraphs))


def neighbour_cosine(vectors: Vectors) -> float:
    """The median cosine between a vector and its nearest other vector."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    scores, _ = index.search(vectors, 2)
    return float(np.median(scores[:, 1]))


def clustered_vectors(
    centres: Vectors, n: int, centre_cosine: float, seed: int = 0
) -> Iterator[Vectors]:
    """``n`` unit vectors around random ``centres``, in blocks of up to 100k rows.

    Noise follows the centres' own covariance (isotropic noise in 384 dimensions would
    spread points where no real text lies) and is scaled so that a point's cosine to its
    centre is about ``centre_cosine``. With the square root of :func:`neighbour_cosine` of
    real paragraphs, two points around one centre are about as alike as two neighbouring
    paragraphs.
    """
    rng = np.random.default_rng(seed)
    variance, axes = np.linalg.eigh(np.cov(centres, rowvar=False))
    spread = np.sqrt(np.clip(variance, 0, None))
    # |noise|^2 = 1/cos^2 - 1 puts a unit centre at that cosine from centre + noise.
    scale = np.sqrt((1 / centre_cosine**2 - 1) / float(np.sum(variance)))
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        noise = (rng.standard_normal((size, len(spread))) * spread) @ axes.T * scale
        block = centres[rng.integers(len(centres), size=size)] + noise.astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        yield np.ascontiguousarray(block, dtype=np.float32)
