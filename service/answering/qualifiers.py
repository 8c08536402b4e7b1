"""What a value is stated for: "92 to date", "29 in February", "37 in the latest flight".
Two values are a disagreement only when they speak of the same thing.

A qualifier is read from the sentence that holds the value, by rules (the query path runs no
parser): running-total phrases, time phrases (months, years, weekdays, "last week") and
"in the latest/first/... <noun>" phrases. The one nearest the value wins. A sentence with
none that names its thing with "the" ("the extradition of the 37") takes the scope its
article gave that thing before ("the latest extradition").

Two values also speak of the same thing when they hold the same place in near copies of one
report (``copy_rivals``): where two sources carry the same sentence with one figure or name
changed, they disagree on exactly that, whether or not the reader read the copy. (Copies
live here because a query may cross no more modules than test_query_process.py allows.)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from citeqa.text import STOPWORDS, aligned_span, answer_key, same_answer
from citeqa.types import Candidate, Passage, ScoredSentence
from indexer.index import Index

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
# A scope phrase ends on lower-case content words: not on the function word after its noun
# ("the latest extradition of"), a name ("The New York Times") or a participle ("died").
_ENDS_NO_SCOPE = STOPWORDS | set(
    "since after before until later ago ever under over against without within among across "
    "toward towards upon behind beyond near despite amid via per like onto around along".split()
)
_NOT_STOPWORD = "(?!(?:" + "|".join(sorted(_ENDS_NO_SCOPE, key=len, reverse=True)) + r")\b)"
_SCOPE_NOUN = rf"{_NOT_STOPWORD}(?-i:[a-z][\w-]*)"
_SCOPE_WORDS = rf"{_SCOPE_NOUN}(?:\s+(?![a-z]+ed\b){_SCOPE_NOUN})?"
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
            rf"{_ORDINAL}\s+{_SCOPE_WORDS}",
            re.IGNORECASE,
        ),
    ),
)
_FIGURE_OR_TIME = re.compile(
    rf"\d|\b(?:{_MONTH}|{_WEEKDAY}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?)\b",
    re.IGNORECASE,
)
_PERIOD = re.compile(
    r"\b(?:time|years?|months?|weeks?|days?|nights?|hours?|minutes?|seasons?|quarters?|"
    r"half|halves|decades?|centur(?:y|ies)|periods?|innings?|weekends?|mornings?)\b"
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
    # A scope ("in the latest flight") is what a figure or a time is counted or dated over;
    # beside a name it describes the name ("the new ambassador, Ronald Johnson"), unless it
    # is a stretch of time ("in the last few years").
    figure = _FIGURE_OR_TIME.search(sentence, value_start, value_end) is not None
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(sentence):
            if match.start() < value_end and value_start < match.end():
                continue  # the value itself ("in 2019" answering "when")
            if kind == "scope" and not figure and not _PERIOD.search(match.group(0)):
                continue
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


# "the extradition of the 37 inmates": a definite noun before the value names a thing the
# article has already spoken of, perhaps with its scope ("the latest extradition").
_DEFINITE_OF = re.compile(r"\bthe\s+([a-z][\w-]+)\s+of\s+(?:the\s+)?$", re.IGNORECASE)


def earlier_qualifier(sentence: str, value_start: int, before: str) -> Qualifier | None:
    """The scope that the article's text before ``sentence`` (``before``) gave the thing a
    value is stated of, when ``sentence`` names it with "the" (offsets into ``sentence``).

    Example:
        >>> before = "Sheinbaum defended the latest extradition of cartel leaders. "
        >>> earlier_qualifier("After the extradition of the 37 inmates, ...", 29, before).text
        'the latest extradition'
    """
    named = _DEFINITE_OF.search(sentence, 0, value_start)
    if named is None or _FIGURE_OR_TIME.match(sentence, value_start) is None:
        return None
    scoped = re.compile(
        rf"\b(?:the|its|their|this|that)\s+{_ORDINAL}\s+{re.escape(named.group(1))}\b",
        re.IGNORECASE,
    )
    last = max(scoped.finditer(before), key=lambda m: m.start(), default=None)  # the nearest
    if last is None:
        return None
    return Qualifier(last.group(0), "scope", last.start() - len(before), last.end() - len(before))


def qualifier_for(index: Index, candidate: Candidate) -> Qualifier | None:
    """The scope or time phrase of the candidate's own sentence nearest its value, or else
    the scope its article gave earlier to the thing the sentence names ("the extradition")."""
    sentence = candidate.sentence
    start, end = candidate.start - sentence.start, candidate.end - sentence.start
    own = qualifier_of(sentence.text, start, end)
    if own is not None:
        return own
    before = index.documents[candidate.doc_id].text[: sentence.start]
    return earlier_qualifier(sentence.text, start, before)


def same_scope(first: Qualifier | None, second: Qualifier | None) -> bool:
    """Whether two values speak for the same scope: a missing qualifier fits any, two
    qualifiers must have the same key."""
    return first is None or second is None or first.key == second.key


# Two sentences this alike (word-level) are one report, copied: where their values differ,
# the sources disagree on exactly the same thing.
NEAR_COPY_RATIO = 0.75
# A value read off a copy is as likely as the value it was aligned with, a shade less.
NEAR_COPY_DISCOUNT = 0.95


@dataclass(frozen=True)
class Rival:
    """``copy``: what another source's copy of ``original``'s sentence says in its place."""

    original: Candidate
    copy: Candidate


def source_of(index: Index, doc_id: str) -> str:
    """One article is one source, however many documents hold its parts (same URL)."""
    document = index.documents.get(doc_id)
    return document.url if document is not None and document.url else doc_id


def _sentences(passages: Iterable[Passage]) -> list[ScoredSentence]:
    """Every sentence of the passages, once."""
    found: dict[int, ScoredSentence] = {}
    for passage in passages:
        for sentence in passage.sentences:
            found.setdefault(sentence.row, sentence)
    return list(found.values())


class _Texts:
    """The words and sources of the texts compared, each found once per query."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._counts: dict[str, Counter[str]] = {}
        self._sources: dict[str, str] = {}

    def words(self, text: str) -> Counter[str]:
        if text not in self._counts:
            self._counts[text] = Counter(text.split())
        return self._counts[text]

    def source(self, doc_id: str) -> str:
        if doc_id not in self._sources:
            self._sources[doc_id] = source_of(self._index, doc_id)
        return self._sources[doc_id]

    def near_copy(self, text: str, other: str) -> bool:
        """Whether the two could be near copies: the words they share bound how well their
        words align (``aligned_span`` checks the alignment itself), and counting them is far
        cheaper than aligning every pair of sentences a query retrieves."""
        first, second = len(text.split()), len(other.split())
        # Sharing every word of the shorter text is the most two texts can share: texts of
        # very different lengths are no copies, and need no count of their words.
        if first + second == 0 or 2 * min(first, second) < NEAR_COPY_RATIO * (first + second):
            return False
        words, other_words = self.words(text), self.words(other)
        common = words.keys() & other_words.keys()  # in C, unlike Counter's "&"
        shared = sum(map(min, map(words.__getitem__, common), map(other_words.__getitem__, common)))
        return 2 * shared >= NEAR_COPY_RATIO * (first + second)


def _copies(
    sentence: ScoredSentence, sentences: Sequence[ScoredSentence], texts: _Texts
) -> list[ScoredSentence]:
    """Other sources' sentences that are near copies of ``sentence`` (and not equal to it)."""
    own_source = texts.source(sentence.doc_id)
    # The source first: most sentences a query retrieves share the candidate's own.
    return [
        other
        for other in sentences
        if texts.source(other.doc_id) != own_source
        and other.text != sentence.text
        and texts.near_copy(sentence.text, other.text)
    ]


def _passage_copies(passage: Passage, passages: Sequence[Passage], texts: _Texts) -> list[Passage]:
    """Other sources' passages that are near copies of ``passage`` (and not equal to it)."""
    own_source = texts.source(passage.chunk.doc_id)
    return [
        other
        for other in passages
        if texts.source(other.chunk.doc_id) != own_source
        and other.chunk.text != passage.chunk.text
        and texts.near_copy(passage.chunk.text, other.chunk.text)
    ]


def copy_rivals(
    candidates: Sequence[Candidate], passages: Sequence[Passage], index: Index
) -> list[Rival]:
    """The values that other sources' copies of each candidate's sentence give in its place.

    Every candidate is looked at, not only the answer: two copies of one report that differ
    in a date are a dispute even when the reader answered with a name they share. Where no
    sentence is a copy, the candidate's whole passage is aligned with other sources' copies
    of it: a sentence too short to align on its own ("Director. Justin Kurzel ;") or split
    differently around a changed date still sits in a copied passage.
    """
    # Near-identical passages that dedup folded into another are copies too.
    all_passages = [p for passage in passages for p in (passage, *passage.duplicates)]
    sentences = _sentences(all_passages)
    texts = _Texts(index)
    copies_of: dict[int, list[ScoredSentence]] = {}
    passage_copies_of: dict[str, list[Passage]] = {}
    rivals: list[Rival] = []
    seen: set[tuple[int, int, int]] = set()
    for candidate in candidates:
        sentence = candidate.sentence
        if (sentence.row, candidate.start, candidate.end) in seen:
            continue
        seen.add((sentence.row, candidate.start, candidate.end))
        if sentence.row not in copies_of:
            copies_of[sentence.row] = _copies(sentence, sentences, texts)
        found = [
            rival
            for other in copies_of[sentence.row]
            if (
                rival := _rival(
                    candidate, sentence.start, sentence.text, other.start, other.text, [other]
                )
            )
            is not None
        ]
        passage = _passage_of(candidate, all_passages)
        if not found and passage is not None:
            chunk = passage.chunk
            if chunk.chunk_id not in passage_copies_of:
                passage_copies_of[chunk.chunk_id] = _passage_copies(passage, all_passages, texts)
            found = [
                rival
                for other in passage_copies_of[chunk.chunk_id]
                if (
                    rival := _rival(
                        candidate,
                        chunk.char_start,
                        chunk.text,
                        other.chunk.char_start,
                        other.chunk.text,
                        other.sentences,
                    )
                )
                is not None
            ]
        rivals.extend(Rival(candidate, rival) for rival in found)
    return rivals


def _passage_of(candidate: Candidate, passages: Sequence[Passage]) -> Passage | None:
    return next(
        (
            p
            for p in passages
            if p.chunk.doc_id == candidate.doc_id
            and p.chunk.char_start <= candidate.start
            and candidate.end <= p.chunk.char_end
        ),
        None,
    )


def _rival(
    candidate: Candidate,
    own_start: int,
    own_text: str,
    copy_start: int,
    copy_text: str,
    copy_sentences: Sequence[ScoredSentence],
) -> Candidate | None:
    """The value a copy (``copy_text``, at ``copy_start`` of its document) gives in
    ``candidate``'s place in ``own_text`` (at ``own_start``), when it is another answer;
    it is cited with the sentence of ``copy_sentences`` that holds it."""
    within = candidate.start - own_start, candidate.end - own_start
    span = aligned_span(own_text, *within, copy_text, NEAR_COPY_RATIO)
    if span is None:
        return None
    text = copy_text[span[0] : span[1]].strip(" ,.;:")
    key, own_key = answer_key(text), answer_key(candidate.text)
    # "Tim Buckley" for "Mortimer Tim Buckley" is one answer worded twice, not a dispute.
    if not key or same_answer(key, own_key) or same_answer(own_key, key):
        return None
    start = copy_start + copy_text.index(text, span[0])
    sentence = next(
        (s for s in copy_sentences if s.start <= start and start + len(text) <= s.end), None
    )
    if sentence is None:
        return None
    return Candidate(
        sentence.doc_id,
        start,
        start + len(text),
        text,
        "COPY",
        candidate.score * NEAR_COPY_DISCOUNT,
        sentence,
    )
