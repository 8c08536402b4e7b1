"""The minimal span a person would quote: the reader's span, trimmed or grown by rules.

The reader is trained on SQuAD-style answers, but its span boundaries still carry what a
person would leave out: enclosing quote marks, a title before a name, a preposition or verb
left over from the sentence. And a figure asked with "how much" or "how many" needs its
unit. Every rule works on offsets into the text it is given, so the trimmed span is still an
exact slice of the document and its citation checks.
"""

from __future__ import annotations

import re

from service.answering.question import PERSON, QuestionType

# Pairs that enclose a quote or an aside; a span wrapped in one is quoted without it.
_ENCLOSING = {'"': '"', "“": "”", "‘": "’", "'": "'", "(": ")", "[": "]", "«": "»"}
_EDGE_PUNCTUATION = " \t\n,;:.!?\"“”‘’'()[]«»—–-"
# Roles that stand before a person's name ("President Claudia Sheinbaum"). Honorifics
# ("Mr.", "Dr.") are not among them: news style keeps them with a surname ("Mr. Zarif").
_TITLES = frozenset(
    (
        "president vice prime minister secretary senator sen. representative rep. "
        "governor gov. mayor judge justice chief chairman chairwoman chair ceo director "
        "spokesman spokeswoman spokesperson ambassador attorney general gen. commissioner "
        "officer agent detective sergeant captain coach king queen prince princess pope "
        "bishop rabbi pastor leader founder owner president-elect deputy undersecretary "
        "administrator"
    ).split()
) | {""}
# A leading word that belongs to the sentence, not the answer: "in 2019", "by the police".
_LEADING_PREPOSITIONS = frozenset(
    ("in on at by for from with of to as since during after before into about via").split()
)
# "at least 12" is a bound, not a preposition left from the sentence.
_FIXED_PHRASES = frozenset({"at least", "at most", "in total", "in all", "of course"})
# Capitalised only where a sentence or heading starts: "underway: The Cleveland Cavaliers".
_FUNCTION_WORDS = (
    frozenset(
        (
            "the a an this that these those and but or as if when while after before since "
            "with without it its his her their our my your we they he she i you"
        ).split()
    )
    | _LEADING_PREPOSITIONS
)
# Words that count what follows them: "three Israeli Jews" are not the Israeli Jews.
_COUNTS = frozenset(
    (
        "one two three four five six seven eight nine ten eleven twelve dozens hundreds "
        "thousands millions some several many few most all both"
    ).split()
)
# What joins two clauses before a name that ends the span: ", and Quick", "; Quick".
_CLAUSE_LINK = re.compile(r"(?:,\s*(?:and|but)|;)\s+$")
_NAME_PARTICLES = frozenset({"de", "da", "del", "van", "von", "der", "bin", "al", "la", "le"})
# "al-Assad", "bin-Salman": a particle joined to a name.
_PARTICLE_NAME = re.compile(r"^(al|el|bin|ibn|abu|de|van|von|da|du|la|le)-[A-Z]")
_ROLE_LINKS = frozenset({"of", "for", "the", "and"}) | _NAME_PARTICLES
_WORD = re.compile(r"\S+")
# Up to three words right after a span, with nothing but spaces between.
_WORDS_AFTER = re.compile(r"(?: [A-Za-z][A-Za-z-]*){1,3}\b")
_UNIT_AFTER = re.compile(
    r"^\s?(%|percent\b|per cent\b|(thousand|million|billion|trillion)\b(\s(dollars|euros|"
    r"pounds|people|tons|barrels)\b)?|(dollars|euros|pounds|yen|yuan|pesos)\b)",
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(r"(US\$|C\$|A\$|\$|€|£|¥)$")
_FIGURE = re.compile(r"^(US\$|C\$|A\$|\$|€|£|¥)?\d[\d,.]*$")


def _words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in _WORD.finditer(text[start:end])]


def _encloses(text: str, start: int, end: int) -> bool:
    """Whether the span's first and last characters are one pair around all of it, not the
    ends of two quotations ("“a” and “b”")."""
    opener, closer = text[start], text[end - 1]
    if _ENCLOSING.get(opener) != closer:
        return False
    inside = text[start + 1 : end - 1]
    return closer not in inside if opener != closer else opener not in inside


def _strip_enclosing(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop quote marks or brackets that wrap the whole span, and stray edge punctuation."""
    while end - start > 2 and _encloses(text, start, end):
        start, end = start + 1, end - 1
    # An opening mark stays when its closer is inside the span ("‘parole’ scheme"); a
    # closing mark only when its opener is ("(R-Texas)").
    while start < end and text[start] in _EDGE_PUNCTUATION and text[start] != "$":
        closer = _ENCLOSING.get(text[start])
        if closer is not None and closer != text[start] and closer in text[start + 1 : end]:
            break
        start += 1
    while start < end and text[end - 1] in _EDGE_PUNCTUATION:
        closer = text[end - 1]
        opener = next((o for o, c in _ENCLOSING.items() if c == closer and o != c), None)
        if opener is not None and opener in text[start : end - 1]:
            break
        if closer == "." and re.search(r"\b[A-Z][a-z]?\.$|\b[A-Z]\.$", text[start:end]):
            break  # "Jr." or an initial keeps its point
        end -= 1
    return start, end


def _take_opening_mark(text: str, start: int, end: int) -> tuple[int, int]:
    """ "parole’ scheme" -> "‘parole’ scheme": the reader left out the mark that opens a
    quotation the span closes (the tokenizer makes the mark a word of its own)."""
    if start == 0:
        return start, end
    opener = text[start - 1]
    closer = _ENCLOSING.get(opener)
    if closer is None or closer == opener or opener not in "‘“«":
        return start, end
    inside = text[start:end]
    if closer in inside and opener not in inside[: inside.index(closer)]:
        return start - 1, end
    return start, end


def _is_capitalised(word: str) -> bool:
    letters = word.lstrip("\"“‘'(")
    return bool(letters) and letters[0].isupper()


def _hyphenated_title(word: str) -> bool:
    """ "attorney-general", "secretary-general": a title made of title words."""
    parts = word.split("-")
    return len(parts) > 1 and all(part and part in _TITLES for part in parts)


def _is_name_word(word: str) -> bool:
    """A word of a person's name: capitalised, a particle, or "al-Assad"."""
    return _is_capitalised(word) or word in _NAME_PARTICLES or bool(_PARTICLE_NAME.match(word))


def _name_after_role(text: str, start: int, end: int) -> tuple[int, int]:
    """ "captain, Andrew Strauss" -> "Andrew Strauss": a role, a comma, then the name."""
    comma = text.find(",", start, end)
    if comma < 0 or text.find(",", comma + 1, end) >= 0:
        return start, end
    role = text[start:comma].split()
    name = _words(text, comma + 1, end)
    if not role or not 2 <= len(name) <= 4:
        return start, end
    last = role[-1].lower()
    if (last in _TITLES or _hyphenated_title(last)) and all(
        _is_name_word(text[s:e]) for s, e in name
    ):
        return name[0][0], end
    return start, end


def _name_after_title(text: str, start: int, end: int) -> tuple[int, int]:
    """ "U.S. Secretary of Homeland Security Kristi Noem" -> "Kristi Noem".

    Only when a title word comes before a run of capitalised words at the end of the span;
    the name is its last two words (three with a particle or an initial).
    """
    aside = text.find("(", start, end)
    if aside > start and text[end - 1] == ")":
        end = len(text[:aside].rstrip())  # "Ron DeSantis (R-Fla.)": the party is an aside
    if "," in text[start:end]:
        # An apposition names the person first ("Deborah Glick, the chairwoman of"); a role
        # before the comma is followed by the name.
        return _name_after_role(text, start, end)
    words = _words(text, start, end)
    lowered = [text[s:e].lower() for s, e in words]
    titles = [i for i, word in enumerate(lowered) if word in _TITLES or _hyphenated_title(word)]
    if not titles or titles[-1] >= len(words) - 1:
        return start, end
    if titles[-1] > 0 and lowered[titles[-1] - 1] in {"the", "a", "an"}:
        return start, end  # "the chairwoman of the Higher Education Committee" names no one
    if {"and", "or", "&"} & set(lowered[: titles[0]]):
        return start, end  # "Bob Hawke and Defense Minister Kim Beazley" names two people
    tail = words[titles[-1] + 1 :]
    # "Secretary of Homeland Security Kristi Noem": the role's "of ..." may run on.
    if not all(_is_name_word(text[s:e]) or text[s:e].lower() in _ROLE_LINKS for s, e in tail):
        return start, end
    return _last_name_words(text, tail, start, end)


def _last_name_words(
    text: str, tail: list[tuple[int, int]], start: int, end: int
) -> tuple[int, int]:
    """The name that ends the span: its last two name words (three with a particle or an
    initial), or the span as it is when it does not end in one."""
    capitalised_tail = _trailing_name(text, tail)
    if not capitalised_tail:
        return start, end
    size = 2
    if len(capitalised_tail) >= 3:
        before = text[capitalised_tail[-3][0] : capitalised_tail[-3][1]]
        middle = text[capitalised_tail[-2][0] : capitalised_tail[-2][1]]
        if re.fullmatch(r"[A-Z]\.", middle) or middle in _NAME_PARTICLES or before.endswith("."):
            size = 3
    name = capitalised_tail[-size:]
    return name[0][0], end


def _agent_of_passive(text: str, start: int, end: int) -> tuple[int, int]:
    """ "The relatives were allegedly received by FBI agents" -> "FBI agents": asked who
    did something, a passive clause answers with its agent."""
    words = _words(text, start, end)
    lowered = [text[s:e].lower() for s, e in words]
    if "by" not in lowered[2:-1]:
        return start, end
    by = len(lowered) - 1 - lowered[::-1].index("by")
    verb = lowered[by - 1]
    if verb.endswith("ly") and by >= 3:
        verb = lowered[by - 2]  # "received directly by"
    # Past participles: received, taken, shown, caught, held, paid, done.
    if verb.endswith(("ed", "en", "wn", "ght", "ld", "id", "ne")) and verb.isalpha():
        return words[by + 1][0], end
    return start, end


def _trailing_name(text: str, words: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The run of name words ("de Blasio") that ends the span."""
    run: list[tuple[int, int]] = []
    for s, e in reversed(words):
        if not _is_name_word(text[s:e]):
            break
        run.insert(0, (s, e))
    return run if any(_is_capitalised(text[s:e]) for s, e in run) else []


def _name_after_clause(text: str, start: int, end: int) -> tuple[int, int]:
    """ "Gaborik also scored for the visiting Kings, and Quick" -> "Quick": asked who, a
    span that runs from another clause into the name takes the name."""
    words = _words(text, start, end)
    name = _trailing_name(text, words)
    if not name or len(name) == len(words):
        return start, end
    link = _CLAUSE_LINK.search(text, start, name[0][0])
    if link is None:
        return start, end
    # Names joined in a list ("Gaborik, Toffoli, and Quick") are all the answer; a clause
    # has a word in lower case that is not a function word ("scored").
    before = [text[s:e] for s, e in _words(text, start, link.start())]
    if any(w.isalpha() and w.islower() and w not in _FUNCTION_WORDS for w in before):
        return name[0][0], end
    return start, end


def _name_after_plain_words(text: str, start: int, end: int) -> tuple[int, int]:
    """ "bar Germaine Greer" -> "Germaine Greer", "feminist author Germaine Greer" too: a
    verb left from the sentence or a role in plain words, before the name asked for. Not
    after a function word ("fans of Taylor Swift" are no Taylor Swift) or a count ("three
    Israeli Jews")."""
    words = _words(text, start, end)
    name = _trailing_name(text, words)
    lead = [text[s:e] for s, e in words[: len(words) - len(name)]]
    if not name or not lead:
        return start, end
    if all(w.isalpha() and w.islower() and w not in _FUNCTION_WORDS | _COUNTS for w in lead):
        return name[0][0], end
    return start, end


def _grow_to_asked_noun(text: str, start: int, end: int, noun: str) -> tuple[int, int]:
    """ "US-Mexico-Canada" -> "US-Mexico-Canada free trade deal" for "which trade deal",
    "Pixar" -> "Pixar Animation Studios" for "what animation studio": the name runs on to
    the noun the question asks for, when only words lie between."""
    following = _WORDS_AFTER.match(text, end)
    if following is None:
        return start, end
    singular = noun.removesuffix("s")
    words = list(_WORD.finditer(text, end, following.end()))
    for at in range(len(words) - 1, -1, -1):
        if words[at].group(0).lower().removesuffix("s") != singular:
            continue
        # The words up to the noun go on the name ("Animation Studios") or describe it in
        # plain words ("free trade deal"); "wins Best Actor" is a clause.
        cases = {word.group(0)[0].isupper() for word in words[: at + 1]}
        return (start, words[at].end()) if len(cases) == 1 else (start, end)
    return start, end


def _ends_in_name(text: str, start: int, end: int) -> bool:
    words = text[start:end].split()
    return bool(words) and _is_capitalised(words[-1])


def _grow_name_start(text: str, start: int, end: int) -> tuple[int, int]:
    """ "Jalisco Nueva Generación" -> "Cartel Jalisco Nueva Generación": a name is not cut
    in two. Capitalised words just before the span join it, but not a title, an honorific,
    a possessive or the first word of a sentence."""
    if not _is_capitalised(text[start:end]):
        return start, end
    while True:
        before = re.search(r"(\S+) $", text[max(0, start - 40) : start])
        if before is None:
            return start, end
        word = before.group(1)
        word_start = start - len(word) - 1
        ahead = text[max(0, word_start - 3) : word_start].rstrip()
        sentence_start = not ahead or ahead[-1] in '.!?\n"“'
        ordinary = word.lower() in _TITLES or word.lower() in _FUNCTION_WORDS
        if not word.isalpha() or not word[0].isupper() or ordinary or sentence_start:
            return start, end
        start = word_start


def _drop_leading_preposition(text: str, start: int, end: int) -> tuple[int, int]:
    words = _words(text, start, end)
    if len(words) < 2:
        return start, end
    first, second = (text[s:e].lower() for s, e in words[:2])
    if first in _LEADING_PREPOSITIONS and f"{first} {second}" not in _FIXED_PHRASES:
        return words[1][0], end
    return start, end


def _drop_leading_gerund(text: str, start: int, end: int) -> tuple[int, int]:
    """ "appointing a US fentanyl czar" -> "a US fentanyl czar": the verb is the sentence's."""
    words = _words(text, start, end)
    if len(words) >= 3:
        first, second = text[slice(*words[0])], text[slice(*words[1])].lower()
        if first.islower() and first.endswith("ing") and second in {"a", "an", "the"}:
            return words[1][0], end
    return start, end


def _close_open_mark(text: str, start: int, end: int) -> tuple[int, int]:
    """ "a “sovereign decision" -> "a “sovereign decision”": the reader stopped before the
    mark that closes a quotation or aside opened inside the span, and the mark is next."""
    closer = text[end : end + 1]  # "" at the text's end, which closes nothing
    opener = next((o for o, c in _ENCLOSING.items() if c == closer and o != c), None)
    if opener is None:
        return start, end
    opened = text.rfind(opener, start, end)
    if opened >= 0 and closer not in text[opened + 1 : end]:
        return start, end + 1
    return start, end


def _drop_unclosed_mark(text: str, start: int, end: int) -> tuple[int, int]:
    """A quotation opened after one function word, closed neither in the span nor right after
    it ("a “gold-plated helicopter,”"), is quoted from its first word; an aside is left out."""
    opens = (i for i in range(end - 1, start, -1) if _ENCLOSING.get(text[i], text[i]) != text[i])
    at = next(opens, end)  # the last mark that opens; a first one is _strip_enclosing's
    if at == end or _ENCLOSING[text[at]] in text[at + 1 : end] or not text[at + 1 : end].strip():
        return start, end
    if text[at] in "([":
        return start, at
    return (at + 1, end) if text[start:at].strip().lower() in _FUNCTION_WORDS else (start, end)


def _grow_unit(text: str, start: int, end: int) -> tuple[int, int]:
    """A bare figure takes its currency sign and magnitude: "5" -> "$5 million"."""
    if not _FIGURE.match(text[start:end]):
        return start, end
    after = _UNIT_AFTER.match(text[end : end + 40])
    if after is not None:
        end += after.end()
    before = _CURRENCY_BEFORE.search(text[max(0, start - 3) : start])
    if before is not None and text[start].isdigit():
        start -= len(before.group(1))
    return start, end


def minimal_span(text: str, start: int, end: int, question_type: QuestionType) -> tuple[int, int]:
    """The offsets of the answer a person would quote, inside ``text[start:end]`` or around
    it (a figure grows to take its unit).

    Example:
        >>> from service.answering.question import classify_question
        >>> sentence = "Mexican President Claudia Sheinbaum called it a “sovereign decision”."
        >>> s, e = minimal_span(sentence, 8, 35, classify_question("Who called it that?"))
        >>> sentence[s:e]
        'Claudia Sheinbaum'
        >>> s, e = minimal_span(sentence, 48, 68, classify_question("What did she call it?"))
        >>> sentence[s:e]
        'sovereign decision'
    """
    trimmed = _strip_enclosing(text, *_take_opening_mark(text, start, end))
    if question_type.kind in ("which", "what"):
        trimmed = _grow_name_start(text, *trimmed)
        if question_type.asked_noun is not None and _ends_in_name(text, *trimmed):
            trimmed = _grow_to_asked_noun(text, *trimmed, question_type.asked_noun)
    if question_type.kind == "who" or question_type.labels == PERSON:  # "which official"
        if question_type.asks_agent:
            trimmed = _agent_of_passive(text, *trimmed)
        trimmed = _name_after_clause(text, *trimmed)
        trimmed = _name_after_title(text, *trimmed)
        trimmed = _name_after_plain_words(text, *trimmed)
    # Not for "where": a place is quoted with its preposition ("in a picture caption").
    if question_type.kind in ("what", "which", "who", "when"):
        trimmed = _drop_leading_preposition(text, *trimmed)
    if question_type.kind in ("what", "which"):
        trimmed = _drop_leading_gerund(text, *trimmed)
    if question_type.kind in ("how_many", "how_much"):  # "how many percent": with its unit
        trimmed = _grow_unit(text, *trimmed)
    trimmed = _strip_enclosing(text, *_drop_unclosed_mark(text, *_close_open_mark(text, *trimmed)))
    if trimmed[1] <= trimmed[0]:
        return start, end
    return trimmed
