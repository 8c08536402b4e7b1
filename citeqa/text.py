"""Text helpers shared by the indexer, the service and the eval: one stemmer, one stop-word
list, one content-word tokeniser and one answer normalisation.

Example:
    >>> content_terms("How many people has Mexico extradited?")
    ['peopl', 'mexico', 'extradit']
    >>> normalize_answer("The  Eiffel-Tower!")
    'eiffeltower'
"""

from __future__ import annotations

import re
import string
import threading
from functools import lru_cache
from typing import Any

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

# The official SQuAD v1.1 script strips ASCII punctuation only; scores must compare with
# published ones, so the eval uses exactly that set.
SQUAD_PUNCTUATION = frozenset(string.punctuation)
# News text quotes with curly quotes and dashes: equal answers must merge across them.
TYPOGRAPHIC_PUNCTUATION = SQUAD_PUNCTUATION | {"“", "”", "’", "‘", "—", "–"}
_ARTICLES = re.compile(r"\b(a|an|the)\b")


_local = threading.local()


def stemmer() -> Any:
    """The English Snowball stemmer (PyStemmer), one per thread: it keeps state while it
    stems, so two threads must not share one."""
    made = getattr(_local, "stemmer", None)
    if made is None:
        import Stemmer

        made = _local.stemmer = Stemmer.Stemmer("english")
    return made


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball stem of one lower-cased word ("extradited" -> "extradit")."""
    return str(stemmer().stemWord(word))


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


def normalize_answer(text: str, punctuation: frozenset[str] = SQUAD_PUNCTUATION) -> str:
    """Lower-case, remove punctuation and the articles a/an/the, and collapse whitespace.

    With the default ``punctuation`` this is the official SQuAD v1.1 normalisation.

    Example:
        >>> normalize_answer("The  Eiffel-Tower!")
        'eiffeltower'
        >>> normalize_answer("“Tower”", TYPOGRAPHIC_PUNCTUATION)
        'tower'
    """
    text = "".join(char for char in text.lower() if char not in punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())
