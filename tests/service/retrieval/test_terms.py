"""Content terms and their weights: what a question and a sentence are compared on."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citeqa.text import content_terms, stem, word_spans
from indexer.terms import CorpusStats, TermLists, query_keys
from service.retrieval.rescoring import Lexicon, QuestionTerms


def test_content_terms_are_stemmed_and_skip_question_and_function_words() -> None:
    assert content_terms("How many people has Mexico extradited?") == [
        "peopl",
        "mexico",
        "extradit",
    ]
    assert content_terms("Who is he, and what did they say?") == ["say"]


def test_inflections_share_a_term() -> None:
    assert stem("extradited") == stem("extradition") == stem("extradite")
    assert content_terms("extraditions") == content_terms("Extradition")


def test_word_spans_are_offsets_of_the_original_words() -> None:
    text = "To date, Mexico has extradited 92 people."
    spans = word_spans(text)
    assert [term for _, _, term in spans] == ["date", "mexico", "extradit", "92", "peopl"]
    assert [text[start:end] for start, end, _ in spans] == [
        "date",
        "Mexico",
        "extradited",
        "92",
        "people",
    ]


def test_rarer_terms_weigh_more_and_unseen_terms_most() -> None:
    stats = CorpusStats.of_texts(
        ["Mexico extradited 92 people.", "Mexico sent 29 more.", "Mexico and the tariffs."]
    )
    assert stats.chunks == 3
    mexico, extradit, unseen = stats.idf(query_keys("Mexico extradited zyxwvu"))
    assert mexico < extradit < unseen == pytest.approx(stats.unseen_idf())


def test_coverage_is_the_weighted_share_of_the_question_terms() -> None:
    lexicon = Lexicon(
        CorpusStats.of_texts(["Mexico extradited 92 people.", "Mexico sent 29 more."])
    )
    question = lexicon.question("How many people has Mexico extradited?")

    assert lexicon.coverage(question, question.keys) == 1.0
    assert lexicon.coverage(question, query_keys("")) == 0.0
    # The rare term counts for more than the one every text holds.
    rare = lexicon.coverage(question, query_keys("extradited"))
    common = lexicon.coverage(question, query_keys("Mexico"))
    assert 0.0 < common < rare < 1.0
    both = np.unique(query_keys("Mexico extradited people"))
    assert lexicon.coverage(question, both) == pytest.approx(1.0)


def test_an_empty_question_covers_nothing() -> None:
    lexicon = Lexicon(CorpusStats.empty())
    assert lexicon.coverage(lexicon.question("how?"), query_keys("Mexico")) == 0.0


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.integers(0, 80), min_size=0, max_size=80, unique=True), min_size=1, max_size=8
    ),
    weights=st.lists(st.floats(0.01, 12.0), min_size=40, max_size=40),
)
def test_a_rows_coverage_does_not_depend_on_the_rows_scored_with_it(
    rows: list[list[int]], weights: list[float]
) -> None:
    keys = np.arange(40, dtype=np.uint64) * 2  # the question's terms are numbers 0, 2, ..., 78
    segment: Any = SimpleNamespace(numbers=lambda wanted: np.asarray(wanted).astype(np.int64))
    question = QuestionTerms(keys, np.array(weights), float(sum(weights)))
    lexicon = Lexicon(CorpusStats.of_texts(["unused"]))

    def lists(part: list[list[int]]) -> TermLists:
        offsets = np.cumsum([0, *(len(r) for r in part)]).astype(np.int64)
        terms = np.array([t for r in part for t in r], dtype=np.int32)
        return TermLists(0, offsets, terms)

    together = lexicon.coverages(question, lists(rows), segment).tolist()
    alone = [lexicon.coverages(question, lists([row]), segment).tolist()[0] for row in rows]
    assert together == alone
