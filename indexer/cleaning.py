"""Tell article sentences from site boilerplate, line by line, without rewriting the text.

Cleaning never edits characters: it only decides which lines are article content, so every
chunk can still be sliced from the original text. The rules are general web-page patterns
(share buttons, ad slots, image file names, contact forms, donation pleas, bylines), in the
spirit of jusText: boilerplate lines are short, link-like, repeated, or made of stock
phrases. A word that prose uses too ("donate", "read more") marks only a short line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from citeqa.text import Line, split_lines
from citeqa.types import Span
from indexer.dates import DATE_PATTERN


class LineKind(Enum):
    BLANK = "blank"
    CONTENT = "content"
    METADATA = "metadata"  # title suffixes, bylines, datelines, "Source:" lines, bare URLs
    BOILERPLATE = "boilerplate"


# Phrases that only web-page furniture uses: one anywhere marks the line.
_STOCK_PHRASES = re.compile(
    r"|".join(
        [
            r"^(share|share on|share this( article| story)?|tweet|print|email)\W*$",
            r"^(no comments|post a comment|leave a (comment|reply)|comments?)\W*$",
            r"\b(top|bottom|side|post|header|footer)\s+ad\b",
            r"^(advertisement|sponsored( content)?|related( articles| stories| posts)?)\W*$",
            r"\breader[- ]funded\b",
            r"\bcreative commons\b",
            r"\ball rights reserved\b",
            r"^(©|copyright\s+(©\s*)?\d{4})",
            r"^(featured |file |top )?(image|photo|picture|video|graphic)s?\b"
            r".{0,40}\b(via|by|credit)\b",
            r"^(file|photo|image|pictured|caption)\s*(photo)?\s*:",
            r"\bis an? (regular|frequent|contributing) (contributor|writer|columnist)\b",
            r"^about the author\b",
        ]
    ),
    re.IGNORECASE,
)
# Calls to action that prose uses too ("urged residents to donate blood", "tap on the
# glass", "read more than 300 pages"): they mark a line only in the shape of a widget,
# short, or two different ones in a line ("Click the share button... Follow us...").
_CALLS_TO_ACTION = re.compile(
    r"|".join(
        [
            r"\b(click|tap) (the|here|below|on)\b",
            r"\bfollow us\b",
            r"\bsubscribe (to|for|now|today)\b",
            r"\bsign up\b.*\bnewsletter\b",
            r"\b(donation|donate)\b",
            r"\bwatch on\b",
            r"^(read more|continue reading|see also)\b",
        ]
    ),
    re.IGNORECASE,
)
# A widget line ("Donate now", "Read more: Mexico extradites 26", "Tap on the image to
# enlarge it") is shorter than this; a news paragraph is longer.
_WIDGET_WORDS = 12
_FILE_NAME = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)+(?:\.(?:jpe?g|png|gif|webp|svg))?$")
_URL = re.compile(r"^(?:https?://|www\.)\S+$")
# "Source: Reuters": a credit line, not content (metadata reads the publisher from it).
SOURCE_LINE = re.compile(r"^(?:source|sources|via)\s*:\s*(?P<source>.{2,80})$", re.IGNORECASE)
_BYLINE = re.compile(r"^by\b(?P<rest>.{0,80})$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…:;\"”’')\]]$")
_SHORT_LINE_WORDS = 4
# A Markdown heading ("# Title", "## Section ##"): the marks are markup, not the title's words.
_HEADING = re.compile(r"^\s{0,3}#{1,6}[ \t]+(?P<words>.*?)(?:[ \t]+#+)?\s*$")


@dataclass(frozen=True)
class ClassifiedLine:
    line: Line
    kind: LineKind


def words_of(line: Line) -> Span:
    """Where a line's words are: without surrounding spaces and Markdown heading marks.

    Example:
        >>> text = "## Ferry strike ends ##"
        >>> words = words_of(Line(0, len(text), text))
        >>> text[words.start : words.end]
        'Ferry strike ends'
    """
    heading = _HEADING.match(line.text)
    if heading and heading["words"]:
        return Span(line.start + heading.start("words"), line.start + heading.end("words"))
    lead = len(line.text) - len(line.text.lstrip())
    return Span(line.start + lead, line.start + len(line.text.rstrip()))


def strip_heading(text: str) -> str:
    """A line without surrounding spaces and Markdown heading marks ("# Title" -> "Title")."""
    words = words_of(Line(0, len(text), text))
    return text[words.start : words.end]


def _is_dateline(text: str) -> bool:
    """A line that is mostly a date: "Wednesday, May 28, 2025", "Global Research, May 28, 2025"."""
    if len(text) > 90:  # checked first: the date pattern is slow on paragraph-long lines
        return False
    match = DATE_PATTERN.search(text)
    if not match:
        return False
    rest = (text[: match.start()] + " " + text[match.end() :]).strip(" ,-|·")
    return len(rest.split()) <= 5


def _is_boilerplate(text: str, is_first: bool) -> bool:
    if not any(ch.isalpha() for ch in text):
        return True
    if _FILE_NAME.match(text) or _STOCK_PHRASES.search(text):
        return True
    words = text.split()
    calls = len({match.group().casefold() for match in _CALLS_TO_ACTION.finditer(text)})
    if calls >= 2 or (calls and len(words) <= _WIDGET_WORDS):
        return True
    # All-capital slogans ("LATIN AMERICA REPORTS: THE PODCAST") are banners, not prose.
    if len(words) >= 2 and text.upper() == text and not is_first:
        return True
    # Short lines without sentence punctuation are menu items, labels and form fields.
    return len(words) <= _SHORT_LINE_WORDS and not _SENTENCE_END.search(text) and not is_first


def _classify(line: Line, is_first: bool, seen: set[str]) -> LineKind:
    text = line.stripped
    if not text:
        return LineKind.BLANK
    if _URL.match(text) or SOURCE_LINE.match(text) or _is_dateline(text):
        return LineKind.METADATA
    if _BYLINE.match(text) and len(text.split()) <= 8:
        return LineKind.METADATA
    if text.casefold() in seen:
        return LineKind.BOILERPLATE  # repeated widgets ("Contact Form" twice) and headlines
    if _is_boilerplate(text, is_first):
        return LineKind.BOILERPLATE
    return LineKind.CONTENT


def classify_lines(text: str) -> list[ClassifiedLine]:
    """Label every line of ``text`` as content, metadata, boilerplate or blank."""
    classified: list[ClassifiedLine] = []
    seen: set[str] = set()
    first_seen = False
    for line in split_lines(text):
        is_first = not first_seen and bool(line.stripped)
        kind = _classify(line, is_first, seen)
        if line.stripped:
            first_seen = True
            seen.add(line.stripped.casefold())
        classified.append(ClassifiedLine(line, kind))
    return _drop_title_suffix_line(classified)


def _drop_title_suffix_line(classified: list[ClassifiedLine]) -> list[ClassifiedLine]:
    """A first line "Headline - Site Name" whose headline repeats later is page chrome."""
    first = next((c for c in classified if c.line.stripped), None)
    if first is None:
        return classified
    headline, site = split_title_suffix(strip_heading(first.line.text))
    repeated = any(
        strip_heading(c.line.text).casefold() == headline.casefold()
        for c in classified
        if c is not first
    )
    if site is None or not repeated:
        return classified
    return [ClassifiedLine(c.line, LineKind.METADATA) if c is first else c for c in classified]


_TITLE_SUFFIX = re.compile(r"^(?P<title>.{10,}?)\s+[-|–—]\s+(?P<site>[^-|–—]{2,40})$")


# A headline is one line of at most a few hundred characters. On a longer first line (a
# document that is one long paragraph) the pattern's backtracking grows with the square of
# its length: a megabyte took minutes.
_MAX_TITLE_LINE_CHARS = 1000


def split_title_suffix(line: str) -> tuple[str, str | None]:
    """Split "Headline - Site Name" into its parts; the site part has at most four words."""
    if len(line) > _MAX_TITLE_LINE_CHARS:
        return line, None
    match = _TITLE_SUFFIX.match(line)
    if match and len(match["site"].split()) <= 4:
        return match["title"].strip(), match["site"].strip()
    return line, None


def content_blocks(classified: list[ClassifiedLine]) -> list[Span]:
    """Maximal runs of content lines (blank lines may sit inside a run, nothing else may).

    A chunk never crosses a block boundary, so every chunk is one contiguous slice of the
    original text that contains no boilerplate. A block starts at the words of its first line
    and ends at those of its last, so a Markdown heading's marks stay out of its chunks.
    """
    blocks: list[Span] = []
    start: int | None = None
    end = 0
    for item in classified:
        if item.kind is LineKind.CONTENT:
            words = words_of(item.line)
            if start is None:
                start = words.start
            end = words.end
        elif item.kind is not LineKind.BLANK and start is not None:
            blocks.append(Span(start, end, "block"))
            start = None
    if start is not None:
        blocks.append(Span(start, end, "block"))
    return blocks


def paragraphs(classified: list[ClassifiedLine]) -> list[Span]:
    """The words of content lines (:func:`words_of`); news sites put a paragraph a line."""
    result = []
    for item in classified:
        if item.kind is LineKind.CONTENT:
            words = words_of(item.line)
            result.append(Span(words.start, words.end, "p"))
    return result
