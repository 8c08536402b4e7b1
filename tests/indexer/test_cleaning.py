"""Boilerplate removal and citation metadata on the seed articles."""

from __future__ import annotations

import pytest

from indexer.cleaning import classify_lines
from indexer.index import Index
from indexer.metadata import Metadata, extract_metadata
from tests.conftest import SEEDS

JUNK_004 = [
    "Home Top Ad",
    "Post Top Ad",
    "demo-image",
    "us-mexico-400x229",
    "mark-schumer-626x1024",
    "Watch on X",
    "Click the share button below",
    "Global Research is a reader-funded",
    "gr-donation-cut-400x226",
    "Counter Information publish all articles",
    "No comments:",
    "Post a Comment",
    "Post Bottom Ad",
    "Contact Form",
    "Email *",
    "Message *",
]
JUNK_000 = ["SHARE ON", "LATIN AMERICA REPORTS: THE PODCAST", "Featured image via"]


def _indexed_text(index: Index, doc_id: str) -> str:
    return "\n".join(c.text for c in index.chunks if c.doc_id == doc_id)


def _doc_id(prefix: str) -> str:
    return next(p.stem for p in SEEDS.glob(f"{prefix}_*.txt"))


@pytest.mark.parametrize(("prefix", "junk"), [("004", JUNK_004), ("000", JUNK_000)])
def test_boilerplate_is_not_indexed(seed_index: Index, prefix: str, junk: list[str]) -> None:
    indexed = _indexed_text(seed_index, _doc_id(prefix))
    for line in junk:
        assert line not in indexed, f"boilerplate {line!r} survived"
    assert "Pages\n" not in indexed and "\nName\n" not in indexed


def test_every_article_sentence_of_004_survives(seed_index: Index) -> None:
    doc_id = _doc_id("004")
    text = seed_index.documents[doc_id].text
    covered: set[int] = set()
    for chunk in seed_index.chunks:
        if chunk.doc_id == doc_id:
            covered.update(range(chunk.char_start, chunk.char_end))
    # Article paragraphs: the lines that read as prose between the byline and the sign-off.
    start = text.index("An out-of-context photograph")
    end = text.index("ensuring that ties between Washington and Mexico City will remain strained.")
    article = text[start:end]
    junk_inside = ["us-mexico", "mark-schumer", "Watch on X", "\n.\n"]
    for paragraph in article.split("\n"):
        if len(paragraph.split()) < 6 or any(j.strip() in paragraph for j in junk_inside):
            continue
        offset = text.index(paragraph)
        missing = [i for i in range(offset, offset + len(paragraph)) if i not in covered]
        assert not missing, f"article text lost: {paragraph[:60]!r}"


def test_metadata_of_seeds() -> None:
    def metadata(prefix: str) -> Metadata:
        path = next(SEEDS.glob(f"{prefix}_*.txt"))
        return extract_metadata(classify_lines(path.read_text(encoding="utf-8")))

    m000 = metadata("000")
    assert m000.published == "2025-06-18"
    assert m000.title and m000.title.startswith("Mexican Foreign Ministry denies report")
    assert metadata("001").source == "Reuters"
    assert metadata("002").title == (
        "Mexico president defends extradition of 37 cartel leaders to US as 'sovereign choice'"
    )
    m004 = metadata("004")
    assert m004.title == "Mexico-US Relations Continue to Strain Over Organized Crime"
    assert m004.source == "Global Research"
    assert m004.published == "2025-05-28"
    assert (
        m004.url
        == "https://www.globalresearch.ca/mexico-us-relations-strain-organized-crime/5888516"
    )


def test_prose_lines_are_content() -> None:
    text = "Headline here\n\nThe minister said the plan would go ahead.\nShare this article\n"
    kinds = [c.kind.value for c in classify_lines(text)]
    assert kinds == ["content", "blank", "content", "boilerplate", "blank"]


PROSE_WITH_WIDGET_WORDS = [
    "The foundation asked residents to donate blood after the collapse, and by Friday more "
    "than 300 people had queued outside the clinic on Calle Madero.",
    "Her donation of 40 paintings to the museum in 2019 doubled its modern collection, the "
    "director said on Tuesday.",
    "Visitors tap on the glass to wake the octopus, a habit the aquarium has tried for years "
    "to discourage with signs in four languages.",
    "Read more than 300 pages of testimony and the pattern is plain, said the judge, who "
    "ordered the ministry to publish the rest.",
    "BSkyB charged subscription fees, and customers that subscribe to any package and later "
    "subscribe to another pay a single monthly fee for the box.",
]
WIDGETS = [
    "Donate now",
    "Read more: Mexico extradites 26 more cartel figures",
    "Tap on the image to enlarge it",
    "Click here to subscribe to our newsletter and follow us on X for daily updates on the "
    "stories that matter to you most this week",
]


@pytest.mark.parametrize("paragraph", PROSE_WITH_WIDGET_WORDS)
def test_prose_with_a_widget_word_is_content(paragraph: str) -> None:
    text = f"Headline of the day\n\n{paragraph}\n"
    assert [c.kind.value for c in classify_lines(text) if c.line.stripped] == [
        "content",
        "content",
    ]


@pytest.mark.parametrize("widget", WIDGETS)
def test_widget_lines_are_boilerplate(widget: str) -> None:
    text = f"Headline of the day\n\n{widget}\n"
    kinds = [c.kind.value for c in classify_lines(text) if c.line.stripped]
    assert kinds == ["content", "boilerplate"]


def test_a_long_first_line_is_classified_in_linear_time() -> None:
    """The "Headline - Site" pattern backtracked over a long run of spaces: a 1.1 MB
    one-paragraph document spent minutes here before spaCy saw it."""
    import time

    text = "Berth 4 of the north pier reopened." + " " * 200_000 + "Cranes are back."
    started = time.monotonic()
    classify_lines(text)
    assert time.monotonic() - started < 1.0
