"""Metadata filters on a document: publisher (case-insensitive) and an inclusive date range."""

from __future__ import annotations

from datetime import date

import pytest

from citeqa.types import Document
from service.retrieval.retriever import Filters


def _document(source: str | None = None, published: str | None = None) -> Document:
    return Document("doc", "Some text.", source=source, published=published)


def test_no_filter_accepts_everything() -> None:
    assert not Filters().active
    assert Filters().accepts(_document())


def test_sources_match_without_case() -> None:
    # The API casefolds the names it is given; the document keeps its own spelling.
    reuters = Filters(sources=frozenset({"reuters"}))
    assert reuters.active
    assert reuters.accepts(_document(source="Reuters"))
    assert not reuters.accepts(_document(source="AP"))
    assert not reuters.accepts(_document())


@pytest.mark.parametrize(
    ("published", "accepted"),
    [
        ("2025-06-01", True),  # both ends are inclusive
        ("2025-06-18", True),
        ("2025-06-30T23:59:00", True),  # a timestamp counts by its date
        ("2025-05-31", False),
        ("2025-07-01", False),
        (None, False),  # an undated document cannot be shown to be in the range
    ],
)
def test_dates_in_the_range_are_accepted(published: str | None, accepted: bool) -> None:
    june = Filters(published_from=date(2025, 6, 1), published_to=date(2025, 6, 30))
    assert june.accepts(_document(published=published)) is accepted


def test_an_open_range_bounds_one_side() -> None:
    since = Filters(published_from=date(2025, 6, 1))
    assert since.accepts(_document(published="2030-01-01"))
    assert not since.accepts(_document(published="2025-05-31"))


def test_every_filter_must_accept() -> None:
    both = Filters(frozenset({"reuters"}), published_from=date(2025, 6, 1))
    assert both.accepts(_document("Reuters", "2025-06-02"))
    assert not both.accepts(_document("Reuters", "2025-05-02"))
    assert not both.accepts(_document("AP", "2025-06-02"))
