"""Question classification rules that steer the reader's typed re-ranking."""

from __future__ import annotations

import pytest

from service.answering.question import (
    AMOUNT_LIKE,
    COUNT_LIKE,
    PERSON_LIKE,
    PLACE_LIKE,
    TIME_LIKE,
    classify_question,
    states_running_total,
)


@pytest.mark.parametrize(
    ("question", "cumulative"),
    [
        ("How many people has Mexico extradited?", True),
        ("How many people has Mexico extradited in total?", True),
        ("How many people has Mexico extradited? and in February?", False),
        ("How many people has Mexico extradited in 2024?", False),
        ("How many people did Mexico extradite last year?", False),
        ("How many people were on the flight?", False),
    ],
)
def test_running_totals_are_wanted_only_without_a_period(question: str, cumulative: bool) -> None:
    assert classify_question(question).cumulative is cumulative


def test_running_total_sentences() -> None:
    assert states_running_total("So far, 92 have been sent.")
    assert not states_running_total("In February it sent 29.")


@pytest.mark.parametrize(
    ("question", "kind", "labels", "focus"),
    [
        ("How many people has Mexico extradited?", "how_many", COUNT_LIKE, "people"),
        ("How much did the wall cost?", "how_much", AMOUNT_LIKE, None),
        ("How long did the trial last?", "how_much", AMOUNT_LIKE | TIME_LIKE, None),
        ("Who spoke?", "who", PERSON_LIKE, None),
        ("Whose car was it?", "who", PERSON_LIKE, None),
        # A role names a person: an organisation cannot be the CEO.
        ("Who is the CEO of Apple?", "who", {"PERSON"}, "ceo"),
        ("When did it start?", "when", TIME_LIKE, None),
        ("What year did it start?", "when", TIME_LIKE, None),
        ("Where is El Chapo serving his life sentence?", "where", PLACE_LIKE, None),
        ("Which cartel did he lead?", "which", {"ORG", "NORP"}, "cartel"),
        ("Which film won?", "which", {"WORK_OF_ART"}, "film"),
        ("Which one?", "which", set(), "one"),
        ("What happened in Sinaloa?", "what", set(), "happened"),
        # After "did" or "will" comes the subject: the man does not say what is asked.
        ("What did the man pack up?", "what", set(), None),
        ("What will the company be called?", "what", set(), None),
        # Plural nouns name the type too; a preposition ends the phrase before "percent".
        ("What companies lost 20 percent?", "which", {"ORG", "NORP"}, "companies"),
        ("What slipped by 1 percent?", "what", set(), "slipped"),
        # A copula may stand before the noun that names the type.
        ("What is the capital of Australia?", "which", {"GPE", "LOC"}, "capital"),
        # A date, year or century asked for after a copula or before an auxiliary is asked
        # as "when" is (and so must be answered by a time); "what time" too.
        ("What is the date of the 2021 NBA Draft?", "when", TIME_LIKE, "date"),
        ("In what century did the engine appear?", "when", TIME_LIKE, "century"),
        ("What time does the show start?", "when", TIME_LIKE, None),
        # A time noun before another noun only qualifies it; a period may have no time.
        ("Which 17th century disaster did it survive?", "which", TIME_LIKE, "century"),
        ("During which period was the forest narrow?", "which", TIME_LIKE, "period"),
        # A hyphenated word stays whole: no "day" in "present-day", no "profit" in "non-profit".
        ("What present-day area was it near?", "which", {"GPE", "LOC"}, "area"),
        ("What non-profit oversees the donors?", "what", set(), "non-profit"),
        # No wh-word: a keyword query names what it wants somewhere in it.
        ("Super Bowl 2021 location", "where", {"GPE", "LOC"}, "location"),
        ("tariff budget for 2025", "which", {"MONEY"}, "budget"),
    ],
)
def test_the_wh_phrase_and_its_noun_name_the_answer_type(
    question: str, kind: str, labels: set[str], focus: str | None
) -> None:
    question_type = classify_question(question)
    assert (question_type.kind, set(question_type.labels), question_type.focus) == (
        kind,
        labels,
        focus,
    )


@pytest.mark.parametrize(
    ("question", "numeric"),
    [
        ("How many people has Mexico extradited?", True),
        ("How much did the wall cost?", True),
        ("What percentage of votes did she win?", True),
        ("Which cartel did he lead?", False),
        ("Who spoke?", False),
    ],
)
def test_figures_are_wanted_for_counts_amounts_and_shares(question: str, numeric: bool) -> None:
    assert classify_question(question).numeric is numeric


@pytest.mark.parametrize(
    ("question", "wants_sentence"),
    [
        ("Why did the US threaten tariffs?", True),
        ("How did it end?", True),
        ("What is globalization?", True),  # a definition
        ("What are tariffs?", True),
        ("What did Schumer say?", False),
        ("", True),
    ],
)
def test_why_how_and_definitions_are_answered_with_a_sentence(
    question: str, wants_sentence: bool
) -> None:
    assert classify_question(question).wants_sentence is wants_sentence


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # A leading "when" or "where" with no auxiliary after it opens a clause; the
        # wh-word after the clause asks.
        ("When the residents came out, what did they hear?", "what"),
        ("When Nishikori played Wawrinka, who won?", "who"),
        ("When did the residents come out?", "when"),
        ("Where is the prison?", "where"),
        # A clause with no other wh-word keeps its own.
        ("When they left", "when"),
        # A wh-word that ends the question asks it.
        ("Patrons would get this case when they entered what?", "what"),
        ("He left where the road ends", "where"),
    ],
)
def test_a_leading_clause_does_not_name_the_answer_type(question: str, kind: str) -> None:
    assert classify_question(question).kind == kind


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("Which trade deal is being renegotiated?", "deal"),
        ("Which cartel did El Chapo lead?", "cartel"),
        ("Which political movement of the leader is probed?", "movement"),
        ("What label did the ministry put on the story?", "label"),
        # No noun phrase, or only a name, after the wh-word.
        ("What did Sheinbaum call it?", None),
        ("Which Gulf state gave him a jet?", "state"),
        ("Which of them won?", None),
    ],
)
def test_the_asked_noun_ends_the_phrase_after_the_wh_word(question: str, noun: str | None) -> None:
    assert classify_question(question).asked_noun == noun


@pytest.mark.parametrize(
    ("question", "agent"),
    [
        ("Who allegedly received the relatives?", True),
        ("Who signed the bill?", True),
        ("Who did the regulators fine?", False),
        ("Who was appointed as the czar?", False),
        ("Who is the president of Mexico?", False),
        ("Whose car was it?", False),
    ],
)
def test_who_asks_for_the_agent_only_before_a_verb(question: str, agent: bool) -> None:
    assert classify_question(question).asks_agent is agent
