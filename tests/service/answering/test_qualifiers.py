"""Qualifiers: the scope or time a sentence states a value for."""

from __future__ import annotations

import pytest

from service.answering.qualifiers import Qualifier, qualifier_of, same_scope

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
