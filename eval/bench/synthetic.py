"""A synthetic corpus for the scale benchmark: real sentences, vectors around real embeddings.

No model runs while it is generated, so a million chunks cost minutes, not CPU-days:

- The text is real sentences (SQuADShifts contexts from ``../shared/training``, else the
  repository's ``seeds/``), drawn at random into documents of a few paragraphs each.
- Each document has several chunks: windows of six sentences that share one sentence with the
  next, the way the real chunker's overlap does. Chunks and sentences are exact slices of the
  document text.
- Vectors are drawn around real embeddings of a few thousand of those sentences (the
  "centres"): ``normalise(centre + noise)``. Uniform random vectors would make every
  neighbour equally far and approximate search look better or worse than it is on real text.

Everything is drawn from ``seed`` batch by batch, so the generator's memory does not grow with
the corpus, and the chunk vectors can be drawn again, without the text, for exact search.

Example:
    >>> pool = ["The first real sentence is long enough.", "A second one is long enough too."]
    >>> centres = normalise(np.random.default_rng(0).standard_normal((3, 8)))
    >>> documents = list(generate(SyntheticCorpus(pool, centres, seed=7), chunks=10))
    >>> sum(len(d.chunks) for d in documents), documents[0].chunk_vectors.shape[1]
    (10, 8)
    >>> all(d.document.text[c.char_start : c.char_end] == c.text
    ...     for d in documents for c in d.chunks)
    True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from citeqa.types import Chunk, Document, Span
from indexer.annotate import Annotations
from indexer.chunking import sentences_within
from indexer.embedding import Vectors
from indexer.processing import ProcessedDocument, content_hash

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO.parent / "shared" / "training"
SEEDS = REPO / "seeds"

# Six sentences a chunk, one shared with the next: about the real chunker's 200 tokens with a
# 40-token overlap on news sentences of 25-30 tokens.
CHUNK_SENTENCES = 6
CHUNK_STRIDE = 5
CHUNKS_PER_DOCUMENT = (2, 6)  # inclusive: a short article to a long one
PARAGRAPH_SENTENCES = (2, 5)
DOCUMENTS_PER_BATCH = 256
# Per-dimension noise around a centre: at 384 dimensions a vector keeps a cosine of about 0.8
# to its centre, and the neighbours of a query within one cluster stay well apart.
NOISE = 0.04
SOURCES = ("Synthetic Wire", "Synthetic Times", "Synthetic Post", "Synthetic Herald")
FIRST_DAY = date(2020, 1, 1)
DAYS = 3 * 365
# Streams of the random generator: one per kind of draw, so each can be drawn again alone.
_LAYOUT, _CHUNK_NOISE, _SENTENCE_NOISE, _QUERIES = range(4)
# A chunk's key for exact search: its document's number times this, plus its index.
_KEY_BASE = 16

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“A-Z0-9])")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SyntheticCorpus:
    """What a synthetic corpus is drawn from: a pool of sentences, centres, a seed."""

    sentences: Sequence[str]
    centres: Vectors  # unit rows: real embeddings
    seed: int
    noise: float = NOISE
    documents_per_batch: int = DOCUMENTS_PER_BATCH

    def __post_init__(self) -> None:
        if not self.sentences:
            raise ValueError("the sentence pool is empty: give it real sentences to sample")
        if self.centres.ndim != 2 or not len(self.centres):
            raise ValueError("centres must be a non-empty (count, dimension) array")


@dataclass(frozen=True)
class _Layout:
    """One batch of documents drawn without text: what the vectors depend on."""

    first_document: int
    chunk_counts: npt.NDArray[np.int64]  # per document
    chunk_centres: npt.NDArray[np.int64]  # per chunk, all documents in order
    sentence_centres: npt.NDArray[np.int64]  # per sentence, all documents in order
    picks: npt.NDArray[np.int64]  # per sentence: its index in the pool
    paragraph_sizes: npt.NDArray[np.int64]  # drawn per sentence, used from the front
    days: npt.NDArray[np.int64]  # per document
    sources: npt.NDArray[np.int64]  # per document


def doc_id(number: int) -> str:
    """The id of the ``number``-th synthetic document."""
    return f"syn_{number:09d}"


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph that read as whole ones (between 30 and 300 characters)."""
    return [
        s.strip()
        for s in _SENTENCE_END.split(text)
        if 30 <= len(s.strip()) <= 300 and "\n" not in s.strip() and len(s.split()) >= 5
    ]


def load_sentences(training: Path = TRAINING, seeds: Path = SEEDS) -> list[str]:
    """Real sentences: the training contexts if there, else the seed articles.

    Read at run time and never copied into the repository (see the training README).
    """
    sentences: list[str] = []
    for path in sorted(training.glob("*/*.json")) if training.is_dir() else []:
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                sentences += split_sentences(paragraph["context"])
    if not sentences:
        for path in sorted(seeds.glob("*.txt")):
            for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
                sentences += split_sentences(" ".join(paragraph.split()))
    if not sentences:
        raise FileNotFoundError(f"no sentences to sample in {training} or {seeds}")
    return sentences


def centre_sentences(sentences: Sequence[str], count: int, seed: int) -> list[str]:
    """The ``count`` sentences whose real embeddings become the centres, drawn from ``seed``."""
    rng = np.random.default_rng([seed, _QUERIES, 1])
    picks = rng.choice(len(sentences), size=min(count, len(sentences)), replace=False)
    return [sentences[int(i)] for i in picks]


def normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length, as float32."""
    rows: Vectors = np.array(vectors, dtype=np.float32)  # a copy: the input stays as it was
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    rows /= np.maximum(norms, np.float32(1e-12))
    return rows


def _around(
    corpus: SyntheticCorpus, centres: npt.NDArray[np.int64], stream: int, batch: int
) -> Vectors:
    rng = np.random.default_rng([corpus.seed, stream, batch])
    noise = rng.standard_normal((len(centres), corpus.centres.shape[1]), dtype=np.float32)
    return normalise(corpus.centres[centres] + np.float32(corpus.noise) * noise)


def _layouts(corpus: SyntheticCorpus, chunks: int) -> Iterator[_Layout]:
    """The batches' layouts until ``chunks`` chunks; the last document may be cut short."""
    low, high = CHUNKS_PER_DOCUMENT
    made = documents = batch = 0
    while made < chunks:
        rng = np.random.default_rng([corpus.seed, _LAYOUT, batch])
        counts = rng.integers(low, high + 1, size=corpus.documents_per_batch)
        ends = made + np.cumsum(counts)
        # The documents up to the one that reaches ``chunks``, which is cut to fit.
        keep = min(int(np.searchsorted(ends, chunks)) + 1, len(counts))
        counts = counts[:keep]
        counts[-1] -= max(0, int(ends[keep - 1]) - chunks)
        sentence_counts = CHUNK_STRIDE * counts + 1
        total_sentences = int(sentence_counts.sum())
        chunk_centres = rng.integers(0, len(corpus.centres), size=int(counts.sum()))
        # A sentence takes the centre of the first chunk it is in.
        first_chunk = np.concatenate(
            [
                np.minimum(np.arange(n) // CHUNK_STRIDE, c - 1) + start
                for n, c, start in zip(
                    sentence_counts, counts, np.cumsum(counts) - counts, strict=True
                )
            ]
        )
        yield _Layout(
            first_document=documents,
            chunk_counts=counts,
            chunk_centres=chunk_centres,
            sentence_centres=chunk_centres[first_chunk],
            picks=rng.integers(0, len(corpus.sentences), size=total_sentences),
            paragraph_sizes=rng.integers(
                PARAGRAPH_SENTENCES[0], PARAGRAPH_SENTENCES[1] + 1, size=total_sentences
            ),
            days=rng.integers(0, DAYS, size=len(counts)),
            sources=rng.integers(0, len(SOURCES), size=len(counts)),
        )
        made += int(counts.sum())
        documents += len(counts)
        batch += 1


def generate(corpus: SyntheticCorpus, chunks: int) -> Iterator[ProcessedDocument]:
    """Documents with ``chunks`` chunks in all, ready for the writer, drawn lazily."""
    if chunks < 1:
        raise ValueError("chunks must be at least 1")
    for batch, layout in enumerate(_layouts(corpus, chunks)):
        chunk_vectors = _around(corpus, layout.chunk_centres, _CHUNK_NOISE, batch)
        sentence_vectors = _around(corpus, layout.sentence_centres, _SENTENCE_NOISE, batch)
        chunk_at = sentence_at = paragraph_at = 0
        for offset, count in enumerate(layout.chunk_counts.tolist()):
            sentences = CHUNK_STRIDE * count + 1
            picks = layout.picks[sentence_at : sentence_at + sentences].tolist()
            text, spans, paragraph_at = _assemble(
                [corpus.sentences[i] for i in picks], layout.paragraph_sizes, paragraph_at
            )
            number = layout.first_document + offset
            published = FIRST_DAY + timedelta(days=int(layout.days[offset]))
            yield _processed(
                _document(number, text, published, SOURCES[int(layout.sources[offset])]),
                spans,
                count,
                chunk_vectors[chunk_at : chunk_at + count],
                sentence_vectors[sentence_at : sentence_at + sentences],
            )
            chunk_at += count
            sentence_at += sentences


def _assemble(
    sentences: list[str], paragraph_sizes: npt.NDArray[np.int64], at: int
) -> tuple[str, list[Span], int]:
    """Join sentences into paragraphs; their spans; where the next paragraph size is read."""
    parts: list[str] = []
    spans: list[Span] = []
    length = 0
    left = 0  # sentences left in the current paragraph
    for sentence in sentences:
        if parts:
            separator = " " if left else "\n\n"
            parts.append(separator)
            length += len(separator)
        if not left:
            left = int(paragraph_sizes[at])  # drawn per sentence: never runs out
            at += 1
        spans.append(Span(length, length + len(sentence), "sentence"))
        parts.append(sentence)
        length += len(sentence)
        left -= 1
    return "".join(parts), spans, at


def _document(number: int, text: str, published: date, source: str) -> Document:
    document = Document(
        doc_id=doc_id(number),
        text=text,
        title=f"Synthetic article {number}",
        source=source,
        published=published.isoformat(),
    )
    return replace(document, content_hash=content_hash(document))


def _processed(
    document: Document,
    spans: list[Span],
    count: int,
    chunk_vectors: Vectors,
    sentence_vectors: Vectors,
) -> ProcessedDocument:
    chunks = []
    for index in range(count):
        first = spans[index * CHUNK_STRIDE]
        last = spans[min(index * CHUNK_STRIDE + CHUNK_SENTENCES, len(spans)) - 1]
        chunks.append(
            Chunk(
                document.doc_id,
                index,
                first.start,
                last.end,
                document.text[first.start : last.end],
                sentences_within(spans, first.start, last.end),
            )
        )
    annotations = Annotations(sentences=spans, entities=[], noun_chunks=[])
    return ProcessedDocument(document, chunks, annotations, chunk_vectors, sentence_vectors)


def chunk_id(key: int) -> str:
    """The chunk id of a key from :func:`chunk_vectors`."""
    return f"{doc_id(key // _KEY_BASE)}#{key % _KEY_BASE}"


def chunk_vectors(
    corpus: SyntheticCorpus, chunks: int
) -> Iterator[tuple[npt.NDArray[np.int64], Vectors]]:
    """The chunk vectors :func:`generate` draws, batch by batch with their chunks' keys
    (:func:`chunk_id` turns one into an id), without the text: exact search goes over them
    without reading the index back."""
    for batch, layout in enumerate(_layouts(corpus, chunks)):
        documents = layout.first_document + np.repeat(
            np.arange(len(layout.chunk_counts)), layout.chunk_counts
        )
        starts = np.repeat(
            np.cumsum(layout.chunk_counts) - layout.chunk_counts, layout.chunk_counts
        )
        indexes = np.arange(len(documents)) - starts
        yield (
            documents * _KEY_BASE + indexes,
            _around(corpus, layout.chunk_centres, _CHUNK_NOISE, batch),
        )


def queries(corpus: SyntheticCorpus, count: int) -> tuple[list[str], Vectors]:
    """``count`` questions made of a real sentence's words, and vectors around real centres.

    The question and its vector are unrelated: retrieval time depends on neither, and the
    recall measured is the vector index's, against exact search over the same vectors.
    """
    rng = np.random.default_rng([corpus.seed, _QUERIES, 0])
    questions = []
    for pick in rng.integers(0, len(corpus.sentences), size=count).tolist():
        words = _WORD.findall(corpus.sentences[pick])
        start = int(rng.integers(0, max(1, len(words) - 8)))
        questions.append(" ".join(words[start : start + 8]) + "?")
    centres = rng.integers(0, len(corpus.centres), size=count)
    noise = rng.standard_normal((count, corpus.centres.shape[1]), dtype=np.float32)
    return questions, normalise(corpus.centres[centres] + np.float32(corpus.noise) * noise)


def exact_top_k(
    corpus: SyntheticCorpus, chunks: int, query_vectors: Vectors, k: int = 10
) -> list[list[str]]:
    """The ids of each query's ``k`` most similar chunks (inner product), by brute force.

    Streams the chunk vectors, so it needs memory for one batch, not the corpus.
    """
    count = len(query_vectors)
    best_scores = np.full((count, 0), -np.inf, dtype=np.float32)
    best_keys = np.zeros((count, 0), dtype=np.int64)
    for keys, vectors in chunk_vectors(corpus, chunks):
        scores = np.concatenate([best_scores, query_vectors @ vectors.T], axis=1)
        candidates = np.concatenate([best_keys, np.broadcast_to(keys, (count, len(keys)))], axis=1)
        keep = min(k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        best_scores = np.take_along_axis(scores, top, axis=1)
        best_keys = np.take_along_axis(candidates, top, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    ranked = np.take_along_axis(best_keys, order, axis=1)
    return [[chunk_id(key) for key in row] for row in ranked.tolist()]
