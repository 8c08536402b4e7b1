"""Citation metadata read from an article's own text: title, publisher, date, URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from citeqa.text import split_lines
from citeqa.types import Document, Source, Span
from indexer.cleaning import (
    SOURCE_LINE,
    ClassifiedLine,
    LineKind,
    split_title_suffix,
    strip_heading,
    words_of,
)
from indexer.dates import DATE_PATTERN, date_from_url, parse_date

_URL = re.compile(r"https?://[^\s<>\"']+")
_HEADER_LINES = 15
_TITLE_MAX_CHARS = 160


@dataclass(frozen=True)
class Metadata(Source):
    # Where the published date is written in the original text, so it can be quoted.
    published_span: Span | None = None


def _title(first_line: str) -> str:
    """The first line, or its first sentence clipped when the article starts with prose."""
    headline, _ = split_title_suffix(first_line)
    if len(headline) <= _TITLE_MAX_CHARS and not headline.endswith("."):
        return headline
    sentence = re.split(r"(?<=[.!?])\s", headline, maxsplit=1)[0]
    if len(sentence) <= _TITLE_MAX_CHARS:
        return sentence
    return sentence[: _TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _dateline_source(text: str) -> str | None:
    """ "Global Research, May 28, 2025" names its publisher before the date."""
    match = DATE_PATTERN.search(text)
    if not match:
        return None
    before = text[: match.start()].strip(" ,-|·")
    if not before or before.lower().startswith("by") or not before[0].isupper():
        return None
    if before.split()[-1].rstrip(",").lower() in {"updated", "published", "posted", "on"}:
        return None
    return before if len(before.split()) <= 5 else None


def extract_metadata(classified: list[ClassifiedLine]) -> Metadata:
    """Read title, publisher, published date and URL from the labelled lines of an article."""
    nonblank = [c for c in classified if c.kind is not LineKind.BLANK]
    if not nonblank:
        return Metadata()
    first = strip_heading(nonblank[0].line.text)
    title = _title(first)
    explicit_source = dateline_source = None
    published = url = None
    published_span = None
    for index, item in enumerate(nonblank):
        text = item.line.stripped
        if item.kind is LineKind.METADATA:
            if match := SOURCE_LINE.match(text):
                explicit_source = explicit_source or match["source"].strip()
            if index < _HEADER_LINES and (date_match := DATE_PATTERN.search(text)):
                found = parse_date(date_match.group(0))
                if found and published is None:
                    published = found.isoformat()
                    line = item.line
                    start = line.start + len(line.text) - len(line.text.lstrip())
                    published_span = Span(
                        start + date_match.start(), start + date_match.end(), "published"
                    )
                dateline_source = dateline_source or _dateline_source(text)
        if url is None and item.kind is not LineKind.CONTENT and (match := _URL.search(text)):
            url = match.group(0).rstrip(".,)")
    if published is None and url and (from_url := date_from_url(url)):
        published = from_url.isoformat()
    site = split_title_suffix(first)[1]
    return Metadata(
        title=title,
        source=explicit_source or dateline_source or site,
        published=published,
        url=url,
        published_span=published_span,
    )


def headline_span(text: str) -> Span | None:
    """Where a document's headline is: its first line, when the title is that line whole.

    A quote from it is a quote of its own document, not another source. None when the text
    starts with prose (its title is then a clipped first sentence) or is empty.

    Example:
        >>> text = "# Ferry strike ends - Harbour News\\n\\nThe strike ended on Monday."
        >>> found = headline_span(text)
        >>> text[found.start : found.end] if found else None
        'Ferry strike ends'
    """
    first = next((line for line in split_lines(text) if line.stripped), None)
    if first is None:
        return None
    words = words_of(first)
    line = text[words.start : words.end]
    headline, _ = split_title_suffix(line)
    if _title(line) != headline:
        return None
    return Span(words.start, words.start + len(headline), "headline")


def with_metadata(document: Document, metadata: Metadata) -> Document:
    """Fill the fields the source file left empty (JSONL fields always win over guesses)."""
    return replace(
        document,
        title=document.title or metadata.title,
        source=document.source or metadata.source,
        published=document.published or metadata.published,
        url=document.url or metadata.url,
    )
