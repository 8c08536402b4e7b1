"""Answer normalisation (the official SQuAD v1.1 rules) used to merge equal answers."""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | {"“", "”", "’", "‘", "—", "–"}
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}  # fmt: skip


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze spaces (SQuAD v1.1)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_key(text: str) -> str:
    """Key under which equal answers merge: "three" and "3", "1,000" and "1000" agree."""
    words = normalize_answer(text.replace(",", "")).split()
    return " ".join(_NUMBER_WORDS.get(w, w) for w in words)
