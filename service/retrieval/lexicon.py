"""IDF-weighted term coverage, with the corpus-wide statistics of the index.

Example:
    >>> from indexer.terms import CorpusStats, term_key
    >>> import numpy as np
    >>> keys = np.array(sorted([term_key("mexico"), term_key("extradit")]), dtype=np.uint64)
    >>> df = np.array([2 if k == term_key("mexico") else 1 for k in keys], dtype=np.int64)
    >>> lexicon = Lexicon(CorpusStats(chunks=2, total_length=6, keys=keys, df=df))
    >>> question = lexicon.question("Has Mexico extradited anyone?")
    >>> lexicon.coverage(question, np.array([term_key("extradit")], dtype=np.uint64)) > 0.5
    True
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
