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
    # "Which official" asks for a person as "who" does: the name without its title.
    (
        "U.S. Secretary of Homeland Security Kristi Noem blamed Sheinbaum for the unrest.",
        "U.S. Secretary of Homeland Security Kristi Noem",
        "Which US cabinet member blamed Sheinbaum?",
        "Kristi Noem",
    ),
    (
        "said US Attorney-General Pam Bondi on Thursday",
        "US Attorney-General Pam Bondi",
        "Which official praised the transfer?",
        "Pam Bondi",
    ),
    # A name with a joined particle is still a name after its title.
    (
        "Syria's President Bashar al-Assad said on Sunday",
        "President Bashar al-Assad",
        "Who is the President of Syria?",
        "Bashar al-Assad",
    ),
    # A role, a comma, then the name: the name.
    (
        "the England captain, Andrew Strauss, said",
        "England captain, Andrew Strauss",
        "Who was Cook's predecessor?",
        "Andrew Strauss",
    ),
    # Asked who did something, a passive clause answers with its agent.
    (
        "The relatives were allegedly received by FBI agents under the scheme.",
        "The relatives were allegedly received by FBI agents",
        "Who received the relatives?",
        "FBI agents",
    ),
    (
        "The bill was signed by Gov. Ron DeSantis on Friday.",
        "The bill was signed by Gov. Ron DeSantis",
        "Who signed the bill?",
        "Ron DeSantis",
    ),
    # A name is not cut in two: capitalised words just before it join it.
    (
        "groups including the Cartel Jalisco Nueva Generación and others",
        "Jalisco Nueva Generación",
        "Which cartel was it?",
        "Cartel Jalisco Nueva Generación",
    ),
    # A name runs on to the noun the question asks for.
    (
        "the renegotiation of the US-Mexico-Canada free trade deal has begun",
        "US-Mexico-Canada",
        "Which trade deal is being renegotiated?",
        "US-Mexico-Canada free trade deal",
    ),
    # ... also where the noun is written as part of the name.
    (
        "the film was made at Pixar Animation Studios in Emeryville",
        "Pixar",
        "Which animation studio is behind the film?",
        "Pixar Animation Studios",
    ),
    # A count takes its magnitude or its percent sign, never its noun.
    (
        "Costs rose 24 percent in five years.",
        "24",
        "How many percent did costs rise?",
        "24 percent",
    ),
    ("The country lost 2 million jobs.", "2", "How many jobs were lost?", "2 million"),
    # Asked who, a span that runs from another clause into a name takes the name ...
    (
        "Smith scored twice for the visitors, and Jones saved a penalty.",
        "Smith scored twice for the visitors, and Jones",
        "Who saved a penalty?",
        "Jones",
    ),
    # ... and so does a verb left over from the sentence, or a role in plain words.
    (
        "Protesters tried to stop Jane Doe from speaking.",
        "stop Jane Doe",
        "Who did protesters try to keep from speaking?",
        "Jane Doe",
    ),
    ("The prize went to novelist Zadie Smith.", "novelist Zadie Smith", "Who won?", "Zadie Smith"),
    # The mark that opens a quotation the span closes joins it.
    ("under the ‘parole’ scheme", "parole’ scheme", "Under which scheme?", "‘parole’ scheme"),
    # ... and the mark that closes a quotation or aside opened inside the span, when next.
    (
        "She called it a “sovereign decision” on Wednesday.",
        "a “sovereign decision",
        "Why did she say Mexico did it?",
        "a “sovereign decision”",
    ),
    # ... and where the closing mark is further on (news style puts the comma inside it), a
    # quotation after an article is quoted from its first word, an aside is left out.
    (
        "asked if the cartel offered him a “gold-plated helicopter,” a sarcastic jab",
        "a “gold-plated helicopter",
        "What sarcastic gift did he ask about?",
        "gold-plated helicopter",
    ),
    ("He won a medal (silver, in 2004) in Athens.", "a medal (silver", "What?", "a medal"),
    ("He said “no.” Then he left.", "He said “", "What did he do?", "He said"),
    (
        "He won an Olympic marathon medal (silver, 2004 Athens Games) in Greece.",
        "Olympic marathon medal (silver, 2004 Athens Games",
        "What did he win?",
        "Olympic marathon medal (silver, 2004 Athens Games)",
    ),
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
        # A quotation opened after words of the answer keeps them, and its mark.
        ("keeping “the city safe,” he said", "keeping “the city safe", "What was his goal?"),
        # Quote marks inside the span (not around it) stay.
        ("He called it “a farce” and left.", "called it “a farce”", "What did he do?"),
        # Two quotations are not one pair around the span.
        ("it was “high” and a “sovereign decision”.", "“high” and a “sovereign decision”", "What?"),
        # No title, name or sentence start: the words before the span stay out of it.
        ("Mexican President Claudia Sheinbaum said", "Claudia Sheinbaum", "Which official said?"),
        ("On Monday Mr. Zarif said", "Zarif", "Which minister said it?"),
        # A passive clause without "by" has no agent to take; "by" after a noun is no agent.
        ("The bill was signed on Friday.", "The bill was signed", "Who did what?"),
        ("a trip by car to Boston", "a trip by car", "Who went?"),
        # Asked who was acted upon, the agent is not the answer.
        (
            "Google was fined by European Union regulators",
            "Google was fined by European Union regulators",
            "Who did the regulators fine?",
        ),
        # A sentence's first word after a colon is no part of the name.
        ("The season began: The Cleveland Cavaliers won", "Cleveland Cavaliers", "Which team?"),
        # Asked for a thing, a role before a name is part of the answer.
        (
            "U.S. Secretary of Homeland Security Kristi Noem blamed Sheinbaum.",
            "U.S. Secretary of Homeland Security Kristi Noem",
            "Which department's head spoke?",
        ),
        # After a comma that follows no title, a list of names is no role and a name.
        ("Senators Warren, Sanders and Booker", "Senators Warren, Sanders", "Who objected?"),
        # Two people named: the title belongs to the second, the answer to both.
        (
            "advised Bob Hawke and Defense Minister Kim Beazley in the 1980s",
            "Bob Hawke and Defense Minister Kim Beazley",
            "Who did he advise?",
        ),
        # A clause after the name is no part of it, even where it ends in the asked noun.
        ("Joaquin Phoenix wins Best Actor", "Joaquin Phoenix", "Which actor won Best Actor?"),
        # Names in a list are all the answer; a name after a function word or a count is
        # not the one asked for; a particle opens a name.
        ("Smith, Brown, and Jones scored.", "Smith, Brown, and Jones", "Who scored?"),
        ("fans of Taylor Swift queued overnight", "fans of Taylor Swift", "Who queued?"),
        ("three Israeli Jews were detained", "three Israeli Jews", "Who was detained?"),
        ("the plan of de Blasio", "de Blasio", "Whose plan was it?"),
        # Only a name grows to the asked noun; a figure or ordinal is the answer alone.
        ("the third such extradition flight was", "third", "Which extradition flight was it?"),
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
