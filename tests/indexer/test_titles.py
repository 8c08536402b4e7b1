"""Titles read from a Markdown heading lose its marks; every offset still slices the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from citeqa.config import Settings
from citeqa.types import Citation
from indexer.cleaning import classify_lines, content_blocks, paragraphs
from indexer.factory import make_writer
from indexer.index import load_index
from indexer.metadata import extract_metadata, headline_span
from indexer.processing import DocumentProcessor
from service.answering.engine import make_engine
from service.reading.reader import SpanReader

ARTICLE = """# Cartel leader pleads guilty in Brooklyn federal court

By Ana Ruiz, March 3, 2025

NEW YORK — A former leader of the Sinaloa cartel pleaded guilty on Monday in federal court \
in Brooklyn to drug trafficking and money laundering charges, prosecutors said.

The defendant, who was extradited from Mexico in February, admitted to smuggling tons of \
cocaine into the United States over two decades. He will be sentenced in June.
"""
TITLE = "Cartel leader pleads guilty in Brooklyn federal court"


@pytest.mark.parametrize(
    "first_line",
    [f"# {TITLE}", f"## {TITLE} ##", f"  ### {TITLE}", f"# {TITLE} - Court News"],
)
def test_a_markdown_heading_gives_its_words_as_the_title(first_line: str) -> None:
    text = f"{first_line}\n\nThe plea came after long negotiations with prosecutors.\n"
    assert extract_metadata(classify_lines(text)).title == TITLE
    found = headline_span(text)
    assert found is not None and text[found.start : found.end] == TITLE


def test_a_hash_without_a_space_is_a_word_not_a_heading() -> None:
    text = "#MeToo rallies grow\n\nThousands marched on Sunday.\n"
    assert extract_metadata(classify_lines(text)).title == "#MeToo rallies grow"


def test_an_article_that_starts_with_prose_has_no_headline() -> None:
    assert headline_span("The ferry strike ended on Monday. Crews returned at dawn.") is None
    assert headline_span("\n\n") is None


def test_heading_marks_stay_out_of_blocks_and_sentence_paragraphs() -> None:
    classified = classify_lines(ARTICLE)
    first_block = content_blocks(classified)[0]
    first_paragraph = paragraphs(classified)[0]
    assert ARTICLE[first_block.start : first_block.end] == TITLE
    assert ARTICLE[first_paragraph.start : first_paragraph.end] == TITLE


def _slices(text: str, citation: Citation) -> bool:
    return (
        text[citation.sentence_start : citation.sentence_end] == citation.sentence
        and citation.sentence_start <= citation.char_start < citation.char_end
        and citation.char_end <= citation.sentence_end
    )


def test_a_markdown_article_is_cited_by_its_title_with_exact_offsets(
    tmp_path: Path, settings: Settings, processor: DocumentProcessor, span_reader: SpanReader
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "plea.md").write_text(ARTICLE, encoding="utf-8")
    index_dir = tmp_path / "index"
    make_writer(settings, index_dir, processor).build([source])
    index = load_index(index_dir, processor.embedder)
    document = index.documents["plea"]
    assert document.title == TITLE
    assert document.text == ARTICLE
    for chunk in index.chunks:
        assert document.text[chunk.char_start : chunk.char_end] == chunk.text
        assert not chunk.text.startswith("#")

    engine = make_engine(settings, index, processor.embedder, span_reader)
    result = engine.answer("Where did the cartel leader plead guilty?")

    assert result.answer is not None
    answers = [result.answer, *result.alternatives]
    citations = [c for a in answers for c in (a.citation, *a.supporting)]
    for answer in answers:
        assert document.text[answer.citation.char_start : answer.citation.char_end] == answer.text
    for citation in citations:
        assert citation.doc_id == "plea" and citation.title == TITLE
        assert _slices(document.text, citation)
        assert not citation.sentence.startswith("#")


def test_the_headline_is_the_title_with_its_site_suffix_cut_once() -> None:
    text = "Ferry strike ends - part two - Harbour News\n\nThe strike ended on Monday.\n"
    found = headline_span(text)
    assert extract_metadata(classify_lines(text)).title == "Ferry strike ends - part two"
    assert found is not None and text[found.start : found.end] == "Ferry strike ends - part two"
