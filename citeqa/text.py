"""Text helpers shared by the indexer, the service and the eval: one stemmer, one stop-word
list, one content-word tokeniser, one answer normalisation (the keys equal answers merge
under, and which of two wordings of a name to keep), lines that remember their offsets,
and where a span of one text sits in a near copy of it.

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
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r"\S+")
# A word of an answer, without the punctuation around it.
_ANSWER_WORD = re.compile(r"[\w’'.-]*\w")
# Question words carry no content; "many"/"much" would otherwise match any quantity phrase.
_EXTRA_STOPWORDS = {"many", "much", "whom", "whose", "did", "does", "according", "said"}
# Lucene's English stop set (EnglishAnalyzer's, which bm25s also ships): 33 words that carry
# no content in a search. Written here, as a set of words needs no package.
LUCENE_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split()
)
# Lucene's list leaves out pronouns, wh-words and most auxiliaries: without them "he"
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
STOPWORDS = LUCENE_STOPWORDS | _EXTRA_STOPWORDS | _FUNCTION_WORDS

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


# A query reads the same few passages and sentences for each of its candidates, and popular
# ones come back across queries: their term sets are kept rather than tokenised each time.
@lru_cache(maxsize=4096)
def term_set(text: str) -> frozenset[str]:
    """The distinct content terms of ``text``."""
    return frozenset(content_terms(text))


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


# -- answer keys: equal answers from several sources merge under one key --------------------

_NUMBER_WORDS = {
    word: str(number)
    for number, word in enumerate(
        "one two three four five six seven eight nine ten eleven twelve".split(), start=1
    )
}
# A decimal point between digits is part of the figure: "1.4 million" is not "14 million".
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")


def answer_key(text: str) -> str:
    """Key under which equal answers merge: "three" and "3", "1,000" and "1000" agree,
    while "1.4" and "14" do not.

    The SQuAD v1.1 normalisation, with curly quotes and dashes counted as punctuation too.
    """
    text = _DECIMAL_POINT.sub(" point ", text.replace(",", ""))
    words = normalize_answer(text, TYPOGRAPHIC_PUNCTUATION).split()
    return " ".join(_NUMBER_WORDS.get(w, w) for w in words)


_MAGNITUDES = {"hundred", "thousand", "million", "billion", "trillion", "percent", "dozen"}


def same_answer(longer: str, shorter: str) -> bool:
    """Whether answer key ``longer`` holds answer key ``shorter`` as one answer: "marco rubio"
    holds "rubio" and "37 inmates" holds "37", but "1 million" does not hold "1"."""
    if f" {shorter} " not in f" {longer} ":
        return False
    if not shorter.isdigit():
        return True
    numbers = [w for w in longer.split() if any(c.isdigit() for c in w) or w in _MAGNITUDES]
    return numbers == [shorter]


# -- lines -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of the original text, ``text == original[start:end]`` (no newline)."""

    start: int
    end: int
    text: str

    @property
    def stripped(self) -> str:
        """The line without surrounding whitespace."""
        return self.text.strip()


def split_lines(text: str) -> list[Line]:
    """Split ``text`` at newlines, keeping each line's offsets into ``text``."""
    lines = []
    start = 0
    for raw in text.split("\n"):
        lines.append(Line(start, start + len(raw), raw))
        start += len(raw) + 1
    return lines


def fuller_name(longer: str, shorter: str) -> bool:
    """Whether ``longer`` is ``shorter`` with more of a name or a date: every word it adds is
    capitalised or a figure ("Marco Rubio" for "Rubio", "September 20, 2019" for
    "September 20"), not a clause around it. A name after a name of two words or more is
    another thing ("Central Park West"); after one word it is a surname ("James Jones")."""
    held = set(_ANSWER_WORD.findall(shorter))
    added = [word for word in _ANSWER_WORD.findall(longer) if word not in held]
    at = longer.find(shorter) if len(held) > 1 else -1
    after = _ANSWER_WORD.findall(longer[at + len(shorter) :]) if at >= 0 else []
    return all(word[0].isupper() or word[0].isdigit() for word in added) and all(
        word[0].isdigit() or word in held for word in after
    )


def aligned_span(
    text: str, start: int, end: int, copy: str, min_ratio: float
) -> tuple[int, int] | None:
    """Where ``text[start:end]`` sits in ``copy``, a near copy of ``text`` (aligned word by
    word); None when the two align worse than ``min_ratio`` or the words have no place there.

    Example:
        >>> aligned_span("Mexico sent 37 people.", 12, 14, "Mexico sent 29 people.", 0.7)
        (12, 14)
    """
    words, copy_words = _tokens(text), _tokens(copy)
    inside = [i for i, (s, e) in enumerate(words) if s < end and start < e]
    if not inside:
        return None
    first, last = inside[0], inside[-1] + 1
    matcher = SequenceMatcher(
        None,
        [text[s:e] for s, e in words],
        [copy[s:e] for s, e in copy_words],
        autojunk=False,
    )
    if matcher.ratio() < min_ratio:
        return None
    mapped_first = mapped_last = None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= first < i2 or (i1 == i2 == first):
            mapped_first = j1 + (first - i1) if tag == "equal" else j1
        if i1 < last <= i2:
            mapped_last = j1 + (last - i1) if tag == "equal" else j2
    if mapped_first is None or mapped_last is None or mapped_last <= mapped_first:
        return None
    return copy_words[mapped_first][0], copy_words[mapped_last - 1][1]


def _tokens(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
