"""The key under which equal answers from different sources merge."""

from __future__ import annotations

import pytest

from citeqa.text import answer_key, same_answer


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("three", "3"),
        ("1,000 people", "1000 people"),
        ("The Sinaloa Cartel.", "sinaloa cartel"),
        ("“El Chapo”", "El Chapo"),
        ("an  extradition", "Extradition"),
    ],
)
def test_equal_answers_share_a_key(one: str, other: str) -> None:
    assert answer_key(one) == answer_key(other)


@pytest.mark.parametrize(("one", "other"), [("92", "29"), ("37 inmates", "37"), ("1,000", "100")])
def test_different_answers_keep_apart(one: str, other: str) -> None:
    assert answer_key(one) != answer_key(other)


def test_a_decimal_point_keeps_figures_apart() -> None:
    assert answer_key("1.4 million") != answer_key("14 million")
    assert answer_key("1.4 million") == answer_key("1.4  million.")


def test_punctuation_alone_has_no_key() -> None:
    assert answer_key("—") == ""


def test_a_figure_with_its_noun_is_the_same_answer_as_the_figure() -> None:
    assert same_answer("37 inmates", "37")
    assert same_answer("marco rubio", "rubio")
    assert not same_answer("1 million", "1")
    assert not same_answer("29 of 37", "29")
    assert not same_answer("2937 inmates", "37")
