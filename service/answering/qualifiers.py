"""The scope or time a figure is stated for: "92 to date", "29 in February", "37 in the latest
flight". Two values are a disagreement only when they answer for the same scope.

A qualifier is read from the sentence that holds the value, by rules (the query path runs no
parser): running-total phrases, time phrases (months, years, weekdays, "last week") and
"in the latest/first/... <noun>" phrases. The one nearest the value wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan\.|feb\.|aug\.|sept?\.|oct\.|nov\.|dec\.)"
)
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORDINAL = (
    r"(?:latest|last|first|second|third|fourth|fifth|previous|recent|most recent|next|final|"
    r"earlier|initial|new|current)"
)
_RUNNING_TOTAL = r"(?:to date|so far|in total|a total of|altogether|overall|all told|since then)"
_PATTERNS = (
    ("total", re.compile(rf"\b{_RUNNING_TOTAL}\b", re.IGNORECASE)),
    (
        "time",
        re.compile(
            r"\b(?:(?:in|on|during|since|by|as of|until|through|before|after|from|for|"
            r"between)\s+)?"
            rf"(?:(?:early|late|mid-?)\s*)?(?:{_MONTH}(?:\s+\d{{1,2}})?(?:,?\s+(?:19|20)\d\d)?|"
            rf"{_WEEKDAY}|(?:19|20)\d\d(?:s)?|the\s+(?:first|second|third|fourth)\s+quarter"
            rf"(?:\s+of\s+(?:19|20)\d\d)?)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "time",
        re.compile(
            r"\b(?:(?:last|this|next|that|the previous|the past)\s+(?:week|month|year|decade|"
            r"spring|summer|autumn|fall|winter|weekend|quarter)|yesterday|today|tonight|"
            r"(?:a|per|each|every)\s+(?:day|week|month|year)|annually|weekly|monthly|daily)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "scope",
        re.compile(
            rf"\b(?:(?:in|on|aboard|during|with|from|of)\s+)?(?:the|its|their|this|that)\s+"
            rf"{_ORDINAL}\s+[a-z][\w-]*(?:\s+[a-z][\w-]*)?",
            re.IGNORECASE,
        ),
    ),
)
_LEADING = re.compile(
    r"^(?:in|on|during|since|by|as of|until|through|before|after|from|for|between|aboard|"
    r"with|of)\s+",
    re.IGNORECASE,
)


# A phrase further from the value than this (in characters, within its clause) speaks of
# something else in the sentence: a birth year, the date of another event.
MAX_DISTANCE = 60


@dataclass(frozen=True)
class Qualifier:
    """A scope or time phrase of a sentence, at ``[start, end)`` of the sentence text."""

    text: str
    kind: str  # "total" (a running total), "time" or "scope"
    start: int
    end: int

    @property
    def key(self) -> str:
        """What two qualifiers must share to speak of the same thing: "to date" and "so far"
        are one running total; "in February" and "February" are one month."""
        if self.kind == "total":
            return "total"
        return " ".join(_LEADING.sub("", self.text.lower()).replace(",", "").split())


def qualifier_of(sentence: str, value_start: int, value_end: int) -> Qualifier | None:
    """The scope or time phrase of ``sentence`` nearest its value at ``[value_start,
    value_end)`` (offsets into the sentence); None when the sentence states none.

    Example:
        >>> s = "To date, Mexico has extradited 92 people; 29 were sent in February."
        >>> qualifier_of(s, 31, 33).text
        'To date'
        >>> qualifier_of(s, 42, 44).text
        'in February'
    """
    found: list[Qualifier] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(sentence):
            if match.start() < value_end and value_start < match.end():
                continue  # the value itself ("in 2019" answering "when")
            found.append(Qualifier(match.group(0).strip(), kind, match.start(), match.end()))
    if not found:
        return None

    def distance(qualifier: Qualifier) -> int:
        if qualifier.start >= value_end:
            gap = qualifier.start - value_end
        else:
            gap = value_start - qualifier.end
        # A clause break between them ("; 29 were sent in February") makes a phrase another
        # clause's, not this value's.
        between = sentence[min(qualifier.end, value_end) : max(qualifier.start, value_start)]
        return gap + (1000 if re.search(r"[;:]|,\s*(?:and|but|while|whereas)\b", between) else 0)

    nearest = min(found, key=distance)
    return nearest if distance(nearest) <= MAX_DISTANCE else None


def same_scope(first: Qualifier | None, second: Qualifier | None) -> bool:
    """Whether two values speak for the same scope: a missing qualifier fits any, two
    qualifiers must have the same key."""
    if first is None or second is None:
        return True
    return first.key == second.key
