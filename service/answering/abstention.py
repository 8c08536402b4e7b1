"""Whether the corpus holds the answer: a logistic model over more than the reader's score.

The reader's margin over its no-answer score says whether *this passage* answers; it is
often confident on a passage about something else when the right article is missing. So the
decision also reads how well the best passages match the question: their dense similarity,
how many of the question's content words and names they contain, and whether other
passages agree, and what the whole question's reading shows: how confident the reader was on
its other spans, how many passages it found an answer in, how well the first passage
matched, and what kind of answer was asked for. The weights come from
`python -m eval.calibrate_abstention` (NYT dev with a fifth of its articles removed, see
eval/RESULTS.md) and ship in `abstention.json`; the threshold on the probability is
`CITEQA_ABSTAIN_THRESHOLD`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from citeqa.config import packaged_reader_path
from citeqa.text import content_terms, term_set
from citeqa.types import Candidate, Passage
from indexer.terms import CorpusStats, Keys, query_keys
from service.retrieval.rescoring import Lexicon, QuestionTerms

# A reader's calibration: the weights read its scores, and another reader's scores sit
# elsewhere (a reader trained with hard negatives abstains far more at the same weights). The
# shipped reader's lies here; another reader's in its own folder.
CALIBRATION_FILE = "abstention.json"
MODEL_PATH = Path(__file__).with_name(CALIBRATION_FILE)
FEATURES = (
    "reader",
    "sentence_dense",
    "sentence_lexical",
    "passage_coverage",
    "name_coverage",
    "has_names",
    "best_dense",
    "witnesses",
    "runner_up_gap",
    "idf_coverage",
    "unseen_share",
    "answer_words",
    "answer_rank",
    "top_passage",
    "top_dense",
    "dense_drop",
    "best_idf_coverage",
    "reader_top3",
    "reader_second",
    "confident_spans",
    "confident_documents",
    "asks_who",
    "asks_when",
    "asks_where",
    "asks_which",
)
# The question kinds the model has a weight for (the others share the baseline).
KINDS = ("who", "when", "where", "which")
# The passages whose match with the question is read: those shown by default.
SHOWN = 5
# A capitalised word after the first: what a question names ("Sheinbaum", "NATO").
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'-]*")


@dataclass(frozen=True)
class AbstentionModel:
    """Logistic weights over :data:`FEATURES`, and the threshold they were calibrated with."""

    weights: tuple[float, ...]
    bias: float
    threshold: float | None = None

    def probability(self, features: Sequence[float]) -> float:
        """The probability that the corpus answers the question."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1 / (1 + math.exp(-max(min(z, 30.0), -30.0)))


@dataclass(frozen=True)
class RareTerms:
    """A question's weighed terms (retrieval's :class:`QuestionTerms`) and its content terms:
    found once a question rather than once for each of its answers and passages."""

    weighed: QuestionTerms
    # The IDF-weighted share of the question's terms that no chunk holds.
    unseen: float
    stems: tuple[str, ...]

    @classmethod
    def of(cls, question: str, stats: CorpusStats) -> RareTerms:
        """The terms of ``question`` weighed over ``stats``."""
        weighed = Lexicon(stats).question(question)
        unseen = stats.frequencies(weighed.keys) == 0
        total = weighed.total
        share = float(weighed.weights[unseen].sum()) / total if total else 0.0
        return cls(weighed, share, tuple(content_terms(question)))


@dataclass(frozen=True)
class Evidence:
    """What one question's retrieval and reading show: the same for each of its answers.

    ``values`` are the last features of :data:`FEATURES`, in order (:func:`question_evidence`);
    ``terms`` the question's weighed terms, which each answer's features read too.
    """

    values: tuple[float, ...]
    terms: RareTerms


def question_evidence(
    question: str,
    kind: str,
    passages: Sequence[Passage],
    candidates: Sequence[Candidate],
    stats: CorpusStats,
    floor: float,
) -> Evidence:
    """The question-wide features: the first passage's scores, how far dense similarity
    falls by the fifth, the best IDF-weighted match of a shown passage, and the reader's
    spans (``candidates`` labelled READER): its next-best scores and how many spans, and
    documents, clear ``floor``."""
    dense = [p.hit.dense_score or 0.0 for p in passages]
    scores = sorted((c.score for c in candidates if c.label == "READER"), reverse=True)
    confident = [c for c in candidates if c.label == "READER" and c.score >= floor]
    terms = RareTerms.of(question, stats)
    coverage = [_rare_terms(terms, p.chunk.text)[0] for p in passages[:SHOWN]]
    return Evidence(
        (
            passages[0].score if passages else 0.0,
            dense[0] if dense else 0.0,
            dense[0] - dense[min(SHOWN, len(dense)) - 1] if dense else 0.0,
            max(coverage, default=0.0),
            float(np.mean(scores[:3])) if scores else 0.0,
            scores[1] if len(scores) > 1 else 0.0,
            float(len(confident)),
            float(len({c.doc_id for c in confident})),
            *(float(kind == known) for known in KINDS),
        ),
        terms,
    )


def calibration_file(reader_folder: Path) -> Path:
    """Where a reader's weights belong: here for the shipped reader, else in its folder."""
    if reader_folder.resolve() == packaged_reader_path().resolve():
        return MODEL_PATH
    return reader_folder / CALIBRATION_FILE


def calibration_for(reader_folder: Path) -> Path:
    """The weights for a reader: its own file, else the shipped reader's."""
    own = calibration_file(reader_folder)
    return own if own.is_file() else MODEL_PATH


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> AbstentionModel:
    """Weights from ``path`` (named, so a file for other features is refused)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(
            f"{path} was fitted for features {data['features']}, not {list(FEATURES)}: "
            "run `python -m eval.calibrate_abstention` again"
        )
    threshold = data.get("calibrated_threshold")
    return AbstentionModel(
        tuple(float(w) for w in data["weights"]),
        float(data["bias"]),
        None if threshold is None else float(threshold),
    )


def _coverage(terms: Sequence[str], text: str) -> float:
    if not terms:
        return 1.0
    present = term_set(text)
    return sum(term in present for term in terms) / len(terms)


def question_names(question: str) -> list[str]:
    """Capitalised words of the question after its first word, lower-cased."""
    return [name.lower() for name in _NAME.findall(question.strip())]


def features(
    question: str,
    answer: Candidate,
    witnesses: int,
    runner_up: float,
    passages: Sequence[Passage],
    evidence: Evidence,
) -> list[float]:
    """The features of one answer, in the order of :data:`FEATURES`.

    ``evidence.terms`` are weighed over the index's corpus statistics: a question whose rare
    words the corpus never holds is about something the corpus lacks.
    """
    rank = next(
        (
            position
            for position, p in enumerate(passages)
            if p.chunk.doc_id == answer.doc_id
            and p.chunk.char_start <= answer.start < p.chunk.char_end
        ),
        -1,
    )
    holding = passages[rank] if rank >= 0 else None
    passage_text = holding.chunk.text if holding is not None else answer.sentence.text
    names = question_names(question)
    lowered = passage_text.lower()
    name_coverage = sum(name in lowered for name in names) / len(names) if names else 1.0
    dense = [p.hit.dense_score for p in passages if p.hit.dense_score is not None]
    return [
        answer.score,
        answer.sentence.dense,
        answer.sentence.lexical,
        _coverage(evidence.terms.stems, passage_text),
        name_coverage,
        float(bool(names)),
        max(dense) if dense else 0.0,
        float(min(witnesses, 3)),
        answer.score - runner_up,
        *_rare_terms(evidence.terms, passage_text),
        float(len(answer.text.split())),
        float(rank),
        *evidence.values,
    ]


# A query reads the same few passages for each of its candidates, and popular passages come
# back across queries: their term keys are kept rather than tokenised each time.
@lru_cache(maxsize=1024)
def _keys(text: str) -> Keys:
    """The distinct term keys of ``text`` (treat as read-only: the array is shared)."""
    return np.unique(query_keys(text))


def _rare_terms(terms: RareTerms, passage_text: str) -> tuple[float, float]:
    """IDF-weighted share of the question's terms in the passage, and in no chunk at all."""
    weighed = terms.weighed
    if not weighed.total:
        return 1.0, 0.0
    held = _keys(passage_text)  # sorted, as np.unique leaves it
    if not len(held):
        return 0.0, terms.unseen
    # A binary search of the passage's sorted keys: np.isin's set-up costs more for a
    # question's few terms.
    at = np.minimum(np.searchsorted(held, weighed.keys), len(held) - 1)
    inside = held[at] == weighed.keys
    return float(weighed.weights[inside].sum()) / weighed.total, terms.unseen
