"""The minimal span: trimmed by general rules, and still an exact slice of the text."""

from __future__ import annotations

import pytest

from service.answering.question import classify_question
from service.answering.trim import minimal_span

CASES = [
    # (sentence, reader span, question, expected)
    (
        "Mexican President Claudia Sheinbaum called it a “sovereign decision”.",
        "President Claudia Sheinbaum",
        "Who called the extradition a sovereign decision?",
        "Claudia Sheinbaum",
    ),
    (
        "Mexican President Claudia Sheinbaum called it a “sovereign decision”.",
        "“sovereign decision”",
        "What did Sheinbaum call the extradition?",
        "sovereign decision",
    ),
    (
        "The order was signed by U.S. Secretary of Homeland Security Kristi Noem on Monday.",
        "U.S. Secretary of Homeland Security Kristi Noem",
        "Who signed the order?",
        "Kristi Noem",
    ),
    (
        "Trump floated appointing a US fentanyl czar last week.",
        "appointing a US fentanyl czar",
        "What position did Trump float?",
        "a US fentanyl czar",
    ),
    ("The deal cost $5 million in total.", "5", "How much did the deal cost?", "$5 million"),
    ("Prices rose 5 percent last year.", "5", "How much did prices rise?", "5 percent"),
    ("It happened in February 2021.", "in February 2021", "When did it happen?", "February 2021"),
    (
        "said Gov. Ron DeSantis (R-Fla.) on Friday",
        "Gov. Ron DeSantis (R-Fla.)",
        "Who said it?",
        "Ron DeSantis",
    ),
    ("Mexico has extradited 92 people.", "92", "How many people has Mexico extradited?", "92"),
]


@pytest.mark.parametrize(("sentence", "span", "question", "expected"), CASES)
def test_minimal_span(sentence: str, span: str, question: str, expected: str) -> None:
    start = sentence.index(span)

    first, last = minimal_span(sentence, start, start + len(span), classify_question(question))

    assert sentence[first:last] == expected


@pytest.mark.parametrize(
    ("sentence", "span", "question"),
    [
        # An organisation is no title before a name: kept whole.
        (
            "the Department of Homeland Security said",
            "the Department of Homeland Security",
            "Who said it?",
        ),
        # A name with an initial and a suffix keeps both.
        (
            "The race was led by John F. Kennedy Jr. until May.",
            "John F. Kennedy Jr.",
            "Who led the race?",
        ),
        # An honorific stays with a surname, as news style writes it.
        ("Mr. Zarif said on Twitter that", "Mr. Zarif", "Who made a statement on Twitter?"),
        # An apposition names the person first: the role after it is no title before a name.
        (
            "asked Assemblywoman Deborah J. Glick, the chairwoman of the Higher Education "
            "Committee, on Monday",
            "Assemblywoman Deborah J. Glick, the chairwoman of the Higher Education Committee",
            "Who was asking questions?",
        ),
        # A place keeps its preposition; "at least" is a bound, not a preposition.
        ("It ran in a picture caption.", "in a picture caption", "Where was the error?"),
        ("It will take at least another year.", "at least another year", "When will it end?"),
        # Quote marks inside the span (not around it) stay.
        ("He called it “a farce” and left.", "called it “a farce”", "What did he do?"),
    ],
)
def test_spans_without_anything_to_trim_are_kept(sentence: str, span: str, question: str) -> None:
    start = sentence.index(span)

    first, last = minimal_span(sentence, start, start + len(span), classify_question(question))

    assert sentence[first:last] == span


@pytest.mark.parametrize(
    ("sentence", "span", "question", "expected"),
    [
        ("under the ‘parole’ scheme", "‘parole’ scheme", "Under which scheme?", "‘parole’ scheme"),
        ("rejected (the US offer) today", "(the US", "Where?", "the US"),
    ],
)
def test_marks_are_kept_only_with_their_pair(
    sentence: str, span: str, question: str, expected: str
) -> None:
    start = sentence.index(span)

    first, last = minimal_span(sentence, start, start + len(span), classify_question(question))

    assert sentence[first:last] == expected
