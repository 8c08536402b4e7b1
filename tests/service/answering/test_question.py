"""Question classification rules that steer the reader's typed re-ranking."""

from __future__ import annotations

import pytest

from service.answering.question import classify_question, states_running_total


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
