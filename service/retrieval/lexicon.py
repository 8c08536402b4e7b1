"""IDF-weighted term coverage, with the corpus-wide statistics of the index.

Example:
    >>> from indexer.terms import CorpusStats, query_keys
    >>> lexicon = Lexicon(CorpusStats.of_texts(["Mexico extradited 92.", "Mexico sent 29."]))
    >>> question = lexicon.question("Has Mexico extradited anyone?")
    >>> round(lexicon.coverage(question, query_keys("extradited")), 2)
    0.26
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from indexer.index import TermLists
from indexer.terms import CorpusStats, Keys, SegmentTerms, query_keys


@dataclass(frozen=True)
class QuestionTerms:
    """A question's distinct term keys and their IDF weights."""

    keys: Keys
    weights: npt.NDArray[np.float64]
    total: float
    # Per segment: the question's term numbers there (sorted) and their weights.
    numbered: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = field(
        default_factory=dict
    )


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

    def coverages(
        self, question: QuestionTerms, lists: TermLists, segment: SegmentTerms
    ) -> npt.NDArray[np.float64]:
        """:meth:`coverage` of each row of ``lists`` (term numbers of ``segment``) at once."""
        rows = len(lists.offsets) - 1
        if question.total == 0 or not len(lists.terms):
            return np.zeros(rows, dtype=np.float64)
        numbered = question.numbered.get(lists.segment)
        if numbered is None:
            numbers = segment.numbers(question.keys)
            present = numbers >= 0
            order = np.argsort(numbers[present])
            numbered = (numbers[present][order], question.weights[present][order])
            question.numbered[lists.segment] = numbered
        numbers, weights = numbered
        if not len(numbers):
            return np.zeros(rows, dtype=np.float64)
        at = np.minimum(np.searchsorted(numbers, lists.terms), len(numbers) - 1)
        found = np.where(numbers[at] == lists.terms, weights[at], 0.0)
        # Per row, in term order: the same sum whichever segment holds the row.
        sums = np.add.reduceat(np.append(found, 0.0), lists.offsets[:-1])
        sums[lists.offsets[:-1] == lists.offsets[1:]] = 0.0
        return np.asarray(sums / question.total, dtype=np.float64)
