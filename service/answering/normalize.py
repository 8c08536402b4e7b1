"""Answer keys: equal answers from several sources merge under one key."""

from __future__ import annotations

import re

from citeqa.text import TYPOGRAPHIC_PUNCTUATION, normalize_answer

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
