"""Qualifiers: the scope or time a sentence states a value for."""

from __future__ import annotations

import pytest

from service.answering.qualifiers import Qualifier, earlier_qualifier, qualifier_of, same_scope

SENTENCE = "To date, Mexico has extradited 92 people; 29 were sent in February."


def _of(sentence: str, value: str) -> str | None:
    start = sentence.index(value)
    found = qualifier_of(sentence, start, start + len(value))
    return found.text if found else None


@pytest.mark.parametrize(
    ("sentence", "value", "expected"),
    [
        (SENTENCE, "92", "To date"),
        (SENTENCE, "29", "in February"),
        ("In the latest flight, 37 people were sent.", "37", "In the latest flight"),
        ("Sales rose 4% last year.", "4%", "last year"),
        ("Mexico sent 37 people north.", "37", None),
        # The value itself is no qualifier of itself.
        ("The treaty was signed in 2019.", "2019", None),
        # A scope ends on its noun: not on the function word after it, not on a name that
        # starts with an ordinal word, not on a verb.
        (
            "She said the latest extradition of 26 leaders was sovereign.",
            "26",
            "the latest extradition",
        ),
        ("The New York Times counted 12 cases.", "12", None),
        ("For the first time since the war, 40 teams played.", "40", "the first time"),
        ("The third defendant died after 9 days.", "9", "The third defendant"),
        ("It won 9 games in its third season under Coach Jones.", "9", "in its third season"),
        # Beside a name, a scope describes the name; a stretch of time still dates it.
        ("The new ambassador, Ronald Johnson, arrived.", "Ronald Johnson", None),
        ("Jones coached the team for the last few years.", "Jones", "the last few years"),
    ],
)
def test_the_nearest_scope_of_a_value(sentence: str, value: str, expected: str | None) -> None:
    assert _of(sentence, value) == expected


def test_running_totals_share_a_scope_and_months_must_match() -> None:
    def qualifier(sentence: str, value: str) -> Qualifier | None:
        start = sentence.index(value)
        return qualifier_of(sentence, start, start + len(value))

    to_date = qualifier("To date, 92 were sent.", "92")
    so_far = qualifier("So far 90 were sent.", "90")
    february = qualifier("In February, 29 were sent.", "29")
    also_february = qualifier("Officials sent 31 in February.", "31")

    assert same_scope(to_date, so_far)
    assert not same_scope(to_date, february)
    assert same_scope(february, also_february)
    assert same_scope(None, february)  # a sentence without a scope fits any


LEAD = "Sheinbaum defended the latest extradition of cartel leaders to the US on Wednesday. "


def _earlier(sentence: str, value: str, before: str) -> str | None:
    found = earlier_qualifier(sentence, sentence.index(value), before)
    return found.text if found else None


@pytest.mark.parametrize(
    ("sentence", "before", "expected"),
    [
        # "the extradition" is the one the article named before, with its scope.
        (
            "After the extradition of the 37 inmates, the US praised Mexico.",
            LEAD,
            "the latest extradition",
        ),
        ("The extradition of 37 people drew praise.", LEAD, "the latest extradition"),
        # The nearest earlier mention wins.
        (
            "After the extradition of the 37 inmates, ...",
            "The first extradition was in May. " + LEAD,
            "the latest extradition",
        ),
        # No "the <noun> of" before the value: nothing is referred back to.
        ("Mexico sent 37 inmates north.", LEAD, None),
        # The article named another thing with a scope, not this one.
        ("After the transfer of the 37 inmates, ...", LEAD, None),
        # The earlier mention has no scope.
        ("After the extradition of the 37 inmates, ...", "The extradition was criticised. ", None),
    ],
)
def test_a_definite_noun_takes_the_scope_the_article_gave_it_before(
    sentence: str, before: str, expected: str | None
) -> None:
    assert _earlier(sentence, "37", before) == expected


def test_an_earlier_scope_sits_before_the_sentence() -> None:
    sentence = "After the extradition of the 37 inmates, ..."
    found = earlier_qualifier(sentence, sentence.index("37"), LEAD)

    assert found is not None and found.kind == "scope"
    assert found.start < found.end < 0
    assert LEAD[len(LEAD) + found.start : len(LEAD) + found.end] == found.text


def test_a_name_takes_no_scope_from_earlier_in_the_article() -> None:
    sentence = "After the extradition of the cartel leaders, the US praised Mexico."

    assert earlier_qualifier(sentence, sentence.index("cartel"), LEAD) is None
