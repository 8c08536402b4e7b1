"""Removing articles from an open-corpus set: their questions become unanswerable; and which
questions an evaluation asks, and a calibration may fit on."""

from __future__ import annotations

import pytest

from citeqa.types import Document
from eval.datasets import Dataset, GoldQuestion, held_out, remove_articles, spread


def _dataset() -> Dataset:
    documents = tuple(
        Document(doc_id=f"{a}-{p}", text=f"article {a} paragraph {p}", url=f"https://x.test/{a}")
        for a in range(10)
        for p in range(3)
    )
    questions = tuple(
        GoldQuestion(id=f"q{a}", question=f"about {a}?", answers=(f"{a}",), doc_ids=(f"{a}-1",))
        for a in range(10)
    )
    return Dataset("toy", documents, questions, "squad", has_answers=True)


def test_a_fifth_of_the_articles_leave_with_all_their_paragraphs() -> None:
    dataset = _dataset()

    removed = remove_articles(dataset, 0.2, seed=3)

    kept_articles = {d.url for d in removed.documents}
    assert len(kept_articles) == 8 and len(removed.documents) == 24
    unanswerable = [q for q in removed.questions if not q.answerable]
    assert len(unanswerable) == 2
    for question in unanswerable:
        assert question.doc_ids == () and not question.relevance
        assert f"https://x.test/{question.id[1:]}" not in kept_articles
    assert all(q.answerable for q in removed.questions if q not in unanswerable)


def test_the_seed_decides_which_articles_and_repeats() -> None:
    dataset = _dataset()

    first, again = remove_articles(dataset, 0.3, seed=1), remove_articles(dataset, 0.3, seed=1)
    other = remove_articles(dataset, 0.3, seed=2)

    assert first.documents == again.documents
    assert first.documents != other.documents
    assert first.name != dataset.name


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_a_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction must be in"):
        remove_articles(_dataset(), fraction, seed=0)


def test_a_limit_spreads_over_the_whole_set_and_held_out_is_the_rest() -> None:
    dataset = _dataset()

    asked = spread(dataset, 4)
    rest = held_out(remove_articles(dataset, 0.2, seed=3), 4)

    assert [q.id for q in asked.questions] == ["q0", "q2", "q5", "q7"]
    assert [q.id for q in rest.questions] == ["q1", "q3", "q4", "q6", "q8", "q9"]
    assert rest.documents == remove_articles(dataset, 0.2, seed=3).documents
    assert spread(dataset, None) == dataset and spread(dataset, 50) == dataset
