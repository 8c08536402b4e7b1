"""IDF-weighted term coverage, with the corpus-wide statistics of the index.

Example:
    >>> from indexer.terms import CorpusStats, query_keys
    >>> lexicon = Lexicon(CorpusStats.of_texts(["Mexico extradited 92.", "Mexico sent 29."]))
    >>> question = lexicon.question("Has Mexico extradited anyone?")
    >>> round(lexicon.coverage(question, query_keys("extradited")), 2)
    0.26
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.terms import CorpusStats, Keys, query_keys


@dataclass(frozen=True)
class QuestionTerms:
    """A question's distinct term keys and their IDF weights."""

    keys: Keys
    weights: npt.NDArray[np.float64]
    total: float


class Lexicon:
    """BM25's inverse document frequencies over the index's live chunks; unseen terms get
    the highest weight."""

    def __init__(self, stats: CorpusStats) -> None:
        self.stats = stats

    def question(self, text: str) -> QuestionTerms:
        """The question's terms, weighted once per query."""
        keys = np.unique(query_keys(text))
        weights = self.stats.idf(keys)
        return QuestionTerms(keys, weights, float(weights.sum()))

    def coverage(self, question: QuestionTerms, text_keys: Keys) -> float:
        """IDF-weighted share of the question's terms that ``text_keys`` contain, in [0, 1]."""
        if question.total == 0 or not len(text_keys):
            return 0.0
        inside = np.isin(question.keys, text_keys, assume_unique=True)
        return float(question.weights[inside].sum() / question.total)
