"""What kind of answer a question expects, from its wh-word and the noun after it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from citeqa.types import QuestionKind

# spaCy entity labels that can answer each question type.
PERSON = frozenset({"PERSON"})
PERSON_LIKE = frozenset({"PERSON", "ORG", "NORP"})
TIME_LIKE = frozenset({"DATE", "TIME"})
PLACE_LIKE = frozenset({"GPE", "LOC", "FAC"})
COUNT_LIKE = frozenset({"CARDINAL", "QUANTITY"})
AMOUNT_LIKE = frozenset({"MONEY", "PERCENT", "QUANTITY", "CARDINAL"})

# Head nouns of "which X" / "what X" questions that name an entity type.
_NOUN_TYPES: dict[str, frozenset[str]] = {}
for _words, _labels in (
    (
        "person man woman official officials leader president minister secretary senator "
        "governor politician expert analyst author spokesperson ambassador chief head judge "
        "lawyer player coach king queen general director founder candidate ceo chairman "
        "chairwoman chair owner actor actress singer writer artist scientist member "
        "lawmaker legislator congressman congresswoman diplomat envoy prosecutor attorney "
        "commander people men women leaders ministers senators governors politicians experts "
        "analysts authors ambassadors judges lawyers players coaches directors founders "
        "candidates members lawmakers legislators diplomats prosecutors commanders",
        PERSON,
    ),
    (
        "country countries nation state city town capital region province place area "
        "neighbour neighbor location venue site stadium",
        frozenset({"GPE", "LOC"}),
    ),
    (
        "organization organisation agency party group company firm institution department "
        "cartel network outlet newspaper agency university team council body ministry "
        "organizations organisations agencies parties groups companies firms institutions "
        "departments cartels networks outlets newspapers universities teams bodies ministries",
        frozenset({"ORG", "NORP"}),
    ),
    ("year month day date decade century period", frozenset({"DATE", "TIME"})),
    ("percentage percent proportion share rate", frozenset({"PERCENT"})),
    (
        "price cost amount sum revenue revenues profit income salary budget fee",
        frozenset({"MONEY"}),
    ),
    ("movie film book song album novel show series play painting", frozenset({"WORK_OF_ART"})),
    ("language religion nationality", frozenset({"NORP", "LANGUAGE"})),
):
    for _word in _words.split():
        _NOUN_TYPES[_word] = _labels

# Nouns that ask for a time ("what year", "which date"); "time" only right after the wh-word
# ("what time does it start"), as it also names other things.
_TIME_NOUNS = frozenset("year month day date decade century".split())

_WH = re.compile(
    r"\b(how many|how much|how long|how old|how far|how often|who(?:m|se)?|when|where|which|"
    r"what|why|how)\b",
    re.IGNORECASE,
)
_CUMULATIVE_SENTENCE = re.compile(
    r"\b(to date|so far|in total|a total of|altogether|overall|cumulative(ly)?)\b",
    re.IGNORECASE,
)
_CUMULATIVE_QUESTION = re.compile(
    r"\b(has|have)\b.*\b\w+ed\b|\b(in total|so far|to date|altogether|overall|total)\b",
    re.IGNORECASE,
)
# A question tied to a period ("in February", "last year", "in 2024") asks for that period's
# figure, not a running total. ("May" is left out: it is mostly the verb.)
_PERIOD = re.compile(
    r"\b(january|february|march|april|june|july|august|september|october|november|"
    r"december|(19|20)\d\d|yesterday|today|(last|this|next|that) (week|month|year|day|"
    r"spring|summer|autumn|fall|winter)|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QuestionType:
    """``kind`` names the expected answer; ``labels`` are entity types that fit it."""

    kind: QuestionKind
    labels: frozenset[str]
    numeric: bool = False
    wants_sentence: bool = False
    cumulative: bool = False  # "how many has X done", "in total": prefer running totals
    focus: str | None = None  # the noun asked about: "which *cartel*", "how many *relatives*"
    # The head noun of "which X": "which trade *deal* is", so "US-Mexico-Canada" can grow to
    # "US-Mexico-Canada free trade deal" when the text names it so.
    asked_noun: str | None = None
    # "Who signed it?" asks for whoever acted, which a passive clause names after "by";
    # "Who did they sue?" or "Who was appointed?" ask for someone acted upon.
    asks_agent: bool = False


_DEFINITION = re.compile(r"^\s*(is|are|was|were)\s+(an?|the)?\s*\w+(\s+\w+)?\s*\??$", re.I)


def _focus(after: str) -> str | None:
    """The first word after the wh-phrase that is a noun-like content word."""
    words: list[str] = re.findall(r"[A-Za-z][A-Za-z-]+", after.lower())
    for word in words[:3]:
        if word in _SKIP_FOCUS:
            return None
        if len(word) > 2:
            return word
    return None


_AUXILIARIES = frozenset(
    (
        "is are was were am be been did does do has have had will would can could should "
        "shall may might must isn't aren't wasn't weren't didn't doesn't don't won't"
    ).split()
)
# Words that end the search for a focus noun: "what *did* ..." has none.
_SKIP_FOCUS = _AUXILIARIES | {"of", "the", "a", "an"}
_COPULAS = frozenset({"is", "are", "was", "were", "am"})
# Words after a noun that end its phrase in a question: "which trade deal *is* ...".
_PHRASE_END = _AUXILIARIES | {"of", "in", "on", "at", "for", "from", "that", "to", "by"}


def _asked_noun(after: str) -> str | None:
    """The last noun of the phrase after "which": the word before an auxiliary or a
    preposition, or a noun of a known type ("which *cartel* did")."""
    words: list[str] = re.findall(r"[A-Za-z][A-Za-z-]*", after)
    for index, word in enumerate(words[:4]):
        following = words[index + 1].lower() if index + 1 < len(words) else ""
        if word.lower() in _PHRASE_END:
            return None
        if following in _PHRASE_END or word.lower() in _NOUN_TYPES:
            return word.lower() if word.islower() else None
    return None


# A preposition ends the noun phrase after the wh-word: "what slipped *by* 1 percent" asks
# for no percentage ("of" joins one: "what kind of film").
_PREPOSITIONS = frozenset("in on at by for from with to as into about via than".split())


def _tokens(text: str) -> list[str]:
    """Lower-cased words; a hyphenated word stays whole: "what present-day area" asks for
    no day, "what non-profit" for no profit."""
    return re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower())


def _head_noun(after: str) -> str | None:
    """The first noun of a known type in the phrase after the wh-word ("which *country*")."""
    words = _tokens(after)
    for word in words[:3]:
        if word in _NOUN_TYPES:
            return word
        if word in _PREPOSITIONS:
            return None
    return None


def _asks_a_time(noun: str, after: str) -> bool:
    """ "What is the date of X?", "in what century did": asked and answered as "when" is,
    by a time. Not when the noun only qualifies the next one ("which 17th century
    *disaster*", "what present day *county*"), nor for a period, which may be named without
    a time ("the Renaissance").

    >>> _asks_a_time("date", " is the date of the draft?")
    True
    >>> _asks_a_time("century", " century disaster did the house survive?")
    False
    """
    if noun not in _TIME_NOUNS:
        return False
    words = _tokens(after)
    following = words[words.index(noun) + 1 :][:1]
    return not following or following[0] in _PHRASE_END


def states_running_total(sentence: str) -> bool:
    """Whether a sentence gives a running total, which answers "how many has X done".

    >>> states_running_total("To date, Mexico has extradited 92 criminals.")
    True
    """
    return bool(_CUMULATIVE_SENTENCE.search(sentence))


def _which_or_what(wh: str, after: str, focus: str | None) -> QuestionType:
    """ "Which country", "what year": the noun says the type; a bare "what is X" asks for a
    definition. In "what did the man pack?" the noun after "did" is the subject, not what is
    asked for: only a copula ("what is the capital") may stand before the noun."""
    first = re.match(r"\s*([\w’']+)", after)
    subject_next = first is not None and first[1].lower() in _AUXILIARIES - _COPULAS
    noun = None if subject_next else _head_noun(after)
    asked = _asked_noun(after)
    if noun is not None:
        labels = _NOUN_TYPES[noun]
        kind: QuestionKind = "when" if _asks_a_time(noun, after) else "which"
        return QuestionType(kind, labels, numeric="PERCENT" in labels, focus=noun, asked_noun=asked)
    if wh == "which":
        return QuestionType("which", frozenset(), focus=focus, asked_noun=asked)
    # "What is X?" asks for a definition: a sentence, not a phrase.
    definitional = bool(_DEFINITION.match(after))
    return QuestionType(
        "what", frozenset(), wants_sentence=definitional, focus=focus, asked_noun=asked
    )


def _keyword_query(question: str) -> QuestionType | None:
    """A keyword query ("Super Bowl 2021 location") names what it wants somewhere in it."""
    for word in re.findall(r"[A-Za-z]+", question.lower()):
        if word in _NOUN_TYPES:
            labels = _NOUN_TYPES[word]
            kind: QuestionKind = (
                "when" if labels == TIME_LIKE else "where" if "GPE" in labels else "which"
            )
            return QuestionType(kind, labels, numeric="PERCENT" in labels, focus=word)
    return None


# A wh-word that ends the question asks it: "... when they entered *what*?"
_LAST_WH = re.compile(r"\b(what|who|whom|which|where)\W*$", re.IGNORECASE)


def _main_wh(question: str) -> re.Match[str] | None:
    """The wh-phrase that asks: in "When the residents came out, what did they hear?" the
    first "when" opens a clause (no auxiliary follows it), and "what" asks; so does the last
    in "They got it when they entered what?"."""
    match = _WH.search(question)
    if match is None or match.group(1).lower() not in ("when", "where"):
        return match
    if question[: match.start()].strip():
        last = _LAST_WH.search(question, match.end())
        return _WH.search(question, last.start()) if last else match
    following = re.match(r"\s*([\w’']+)", question[match.end() :])
    if following is None or following.group(1).lower() in _AUXILIARIES:
        return match
    later = _WH.search(question, match.end())
    return later or match


def classify_question(question: str) -> QuestionType:
    """Classify a question by its first wh-phrase.

    Example:
        >>> classify_question("How many people has Mexico extradited?").kind
        'how_many'
    """
    match = _main_wh(question)
    wh = match.group(1).lower() if match else ""
    after = question[match.end() :] if match else question
    cumulative = bool(_CUMULATIVE_QUESTION.search(after)) and not _PERIOD.search(after)
    focus = _focus(after)
    if wh == "how many":
        return QuestionType(
            "how_many", COUNT_LIKE, numeric=True, cumulative=cumulative, focus=focus
        )
    if wh in ("how much", "how long", "how old", "how far", "how often"):
        labels = AMOUNT_LIKE | (TIME_LIKE if wh in ("how long", "how old", "how often") else set())
        return QuestionType("how_much", frozenset(labels), numeric=True, cumulative=cumulative)
    if wh.startswith("who"):
        next_word = re.match(r"\s*([\w’']+)", after)
        agent = wh == "who" and next_word is not None and next_word[1].lower() not in _AUXILIARIES
        # "Who is the CEO of X?" names a role: only a person can fill it.
        role = _head_noun(after)
        if role is not None and _NOUN_TYPES[role] == PERSON:
            return QuestionType("who", PERSON, focus=role, asks_agent=agent)
        return QuestionType("who", PERSON_LIKE, asks_agent=agent)
    if wh == "when" or re.match(r"\s*(year|month|day|date|time)\b", after, re.IGNORECASE):
        return QuestionType("when", TIME_LIKE)
    if wh == "where":
        return QuestionType("where", PLACE_LIKE)
    if wh in ("which", "what"):
        return _which_or_what(wh, after, focus)
    keyword = None if wh else _keyword_query(question)
    if keyword is not None:
        return keyword
    if wh == "why":
        return QuestionType("why", frozenset(), wants_sentence=True)
    return QuestionType("how" if wh == "how" else "other", frozenset(), wants_sentence=True)


# The date of an article lives in its byline or dateline, metadata no passage holds: such a
# question is answered from there (QueryEngine).
_PUBLICATION = re.compile(
    r"^\s*(when|on what (date|day)|what (date|day))\b.*\b(published|posted|dated|written|"
    r"released|put out|appeared)\b",
    re.IGNORECASE,
)


def asks_publication_date(question: str) -> bool:
    """True for "when was ... published" and its variants."""
    return bool(_PUBLICATION.search(question))
