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

from indexer.blocks import TermLists
from indexer.terms import CorpusStats, Keys, SegmentTerms, query_keys


@dataclass(frozen=True)
class QuestionTerms:
    """A question's distinct term keys and their IDF weights."""

    keys: Keys
    weights: npt.NDArray[np.float64]
    total: float
    # Per segment: the question's term numbers there (sorted), and for each the term's
    # place in ``keys``.
    numbered: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = field(
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
            present = np.flatnonzero(numbers >= 0)
            order = np.argsort(numbers[present])
            numbered = (numbers[present][order], present[order])
            question.numbered[lists.segment] = numbered
        numbers, places = numbered
        if not len(numbers):
            return np.zeros(rows, dtype=np.float64)
        at = np.minimum(np.searchsorted(numbers, lists.terms), len(numbers) - 1)
        found = numbers[at] == lists.terms
        owner = np.repeat(np.arange(rows), np.diff(lists.offsets))
        weights = np.zeros((len(question.keys), rows), dtype=np.float64)
        place = places[at[found]]
        weights[place, owner[found]] = question.weights[place]
        # Summed term by term in the question's order: each row's sum is the same float
        # whichever rows are scored with it and whichever segment holds it.
        sums = np.zeros(rows, dtype=np.float64)
        for row_weights in weights:
            sums += row_weights
        return np.asarray(sums / question.total, dtype=np.float64)
