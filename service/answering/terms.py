"""Content words, stemmed, and their inverse document frequencies over the index's chunks."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Set
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"\w+", re.UNICODE)
# Question words carry no content; "many"/"much" would otherwise match any quantity phrase.
_EXTRA_STOPWORDS = {"many", "much", "whom", "whose", "did", "does", "according", "said"}
# bm25s's English list leaves out pronouns, wh-words and most auxiliaries: without them "he"
# and "what" count as content, anchor the proximity score and pass as answers.
# Left out on purpose: words that are also names or nouns ("May", "US", "will", "can",
# "mine", "being").
_FUNCTION_WORDS_TEXT = """
i me my myself you your yours yourself yourselves he him his himself she her hers herself
we our ours ourselves they them their theirs themselves its itself
who which what where when why how whoever whatever
is are was were be been do doing done has have had having would could should shall those
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())
STOPWORDS = frozenset(STOPWORDS_EN) | _EXTRA_STOPWORDS | _FUNCTION_WORDS


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` that are not stop words, in order."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, stemmed term)`` for every content word of ``text``."""
    return [
        (m.start(), m.end(), stem(m.group(0).lower()))
        for m in _WORD.finditer(text)
        if m.group(0).lower() not in STOPWORDS
    ]


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
        return self._idf.get(term, self._unseen)

    def coverage(self, query_terms: Iterable[str], text_terms: Set[str]) -> float:
        """IDF-weighted share of the query's terms that ``text_terms`` contain, in [0, 1]."""
        unique = set(query_terms)
        total = sum(self.idf(t) for t in unique)
        if total == 0:
            return 0.0
        return sum(self.idf(t) for t in unique if t in text_terms) / total
