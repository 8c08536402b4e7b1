"""Inverse document frequencies of content terms over the index's chunks."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Set

from citeqa.text import content_terms


class Lexicon:
    """Inverse document frequencies; unseen terms get the highest weight."""

    def __init__(self, texts: Iterable[str]) -> None:
        counts: Counter[str] = Counter()
        total = 0
        for text in texts:
            counts.update(set(content_terms(text)))
            total += 1
        self.total = max(total, 1)
        self._idf = {t: math.log(1 + (self.total - n + 0.5) / (n + 0.5)) for t, n in counts.items()}
        self._unseen = math.log(1 + (self.total + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a stemmed term over the chunks."""
        return self._idf.get(term, self._unseen)

    def coverage(self, query_terms: Iterable[str], text_terms: Set[str]) -> float:
        """IDF-weighted share of the query's terms that ``text_terms`` contain, in [0, 1]."""
        unique = set(query_terms)
        total = sum(self.idf(t) for t in unique)
        if total == 0:
            return 0.0
        return sum(self.idf(t) for t in unique if t in text_terms) / total
