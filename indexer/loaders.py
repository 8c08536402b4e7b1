"""Read article files (.txt, .md, .html, .json, .jsonl) into Documents; bad files are reported,
not fatal.

The *original text* of a document is its decoded file text with line endings normalised to
``\\n`` (for HTML: the article text trafilatura extracts). Every offset in the index points
into that text, and the document store keeps it verbatim.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator, model_validator

from citeqa.types import Document, Source
from indexer.cleaning import split_title_suffix
from indexer.decoding import decode
from indexer.errors import BadFileError, InvalidDocumentIdError, SourceNotFoundError

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
log = logging.getLogger("citeqa.indexer")
# File stems that stand for the folder holding them (web servers, Hugo page bundles).
_FOLDER_PAGES = frozenset({"index", "_index", "default"})
DOC_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class SkippedFile:
    """A file (or a line of a JSONL file) that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    documents: list[Document]
    skipped: list[SkippedFile]


def renamed_key(value: object, old: str, new: str) -> object:
    """An article object with ``old`` read as ``new``: files name a document's id ``id``, the
    HTTP API ``doc_id``, and an article moved from one to the other must read the same.

    >>> renamed_key({"id": "a1", "text": "..."}, "id", "doc_id")
    {'text': '...', 'doc_id': 'a1'}
    """
    if isinstance(value, dict) and old in value and new not in value:
        value = {key: item for key, item in value.items() if key != old} | {new: value[old]}
    return value


class JsonlArticle(BaseModel, Source, frozen=True):
    """One article of a JSONL line or a JSON file: an id (``id``, or ``doc_id`` as the HTTP
    API names it), the text, and the source fields of ``citeqa.types.Source`` (all optional).
    """

    id: str
    text: str

    @model_validator(mode="before")
    @classmethod
    def _doc_id_as_the_api_names_it(cls, value: object) -> object:
        return renamed_key(value, "doc_id", "id")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return value


def validate_doc_id(doc_id: str) -> str:
    """Return ``doc_id`` if it is safe to use as a key and in URLs, else raise."""
    if not DOC_ID_PATTERN.match(doc_id) or ".." in doc_id:
        raise InvalidDocumentIdError(
            f"document id {doc_id!r} is not allowed: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, and no '..'"
        )
    return doc_id


def document_id(path: Path) -> str:
    """A file's document id: its stem, or for a folder's own page (``index.html``, a static
    site's ``index.md`` or ``_index.md``) the folder's name, since a mirrored site or a page
    bundle holds one such file per article and the folder is what names it."""
    folder = path.parent.name
    if path.stem.lower() in _FOLDER_PAGES and DOC_ID_PATTERN.match(folder):
        return folder
    return path.stem


def iter_source_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield files under ``paths`` (folders recursively, sorted), skipping hidden ones.

    Paths are absolute, as each document records its own: `citeqa index sync` finds the
    documents a folder held by them, whatever folder it is run from.
    """
    for path in (Path(os.path.abspath(p)) for p in paths):
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(p.startswith(".") for p in child.parts[-1:]):
                    yield child
        else:
            yield path


def decode_text(raw: bytes, path: Path, html: bool = False) -> str:
    """Decode an article file (UTF-8, or a legacy encoding it declares or its bytes show,
    see :mod:`indexer.decoding`); a file that was not UTF-8 is logged with what read it.

    Raises:
        BadFileError: The file is empty, binary or undecodable.
    """
    decoded = decode(raw, html)
    if decoded.legacy:
        log.warning("%s is not UTF-8: read as %s", path, decoded.encoding)
    return decoded.text


def html_article(html: str) -> tuple[str, Source]:
    """The article text of a web page, and the title, publisher, date and URL its markup
    declares (Open Graph, JSON-LD, ``<title>``, ``<link rel=canonical>``): a page's byline
    is not in the text trafilatura keeps, so a citation's source and date come from here.

    Raises:
        BadFileError: The page could not be parsed or holds no article text.
    """
    try:
        import trafilatura

        text = trafilatura.extract(html, include_comments=False, include_tables=False)
        # Dates from the markup only (meta tags, <time>, the URL), never guessed from prose.
        meta = trafilatura.extract_metadata(html, extensive=False)
    except Exception as error:  # a parser's failure is this file's problem, not the build's
        raise BadFileError(
            f"the HTML could not be parsed ({type(error).__name__}: {error}); "
            "save the article as .txt, or check that lxml_html_clean is installed"
        ) from error
    if not text or not text.strip():
        raise BadFileError("no article text found in this HTML page")
    # "Headline | The Harbour Times": the suffix names the publisher when no tag does.
    title, site = split_title_suffix(meta.title) if meta.title else (None, None)
    return str(text), Source(
        title=title, source=meta.sitename or site, published=_iso_date(meta.date), url=meta.url
    )


def _iso_date(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


def _article(value: object, where: str, default_id: str | None = None) -> Document:
    """One article object of a JSON or JSONL file as a Document.

    Raises:
        ValidationError, InvalidDocumentIdError: The object is not an article.
    """
    if isinstance(value, dict) and default_id is not None and not {"id", "doc_id"} & value.keys():
        value = {"id": default_id, **value}
    article = JsonlArticle.model_validate(value)
    return Document(
        doc_id=validate_doc_id(article.id),
        text=article.text.replace("\r\n", "\n"),
        title=article.title,
        source=article.source,
        url=article.url,
        published=article.published,
        path=where,
    )


def _reason(error: Exception) -> str:
    """What is wrong with an article object, in a line: "id: Field required"."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'article'}: {problem['msg']}"
            for problem in error.errors()[:3]
        )
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _load_jsonl(text: str, path: Path, skipped: list[SkippedFile]) -> list[Document]:
    documents = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            documents.append(_article(json.loads(line), where))
        except (json.JSONDecodeError, ValidationError, InvalidDocumentIdError) as error:
            skipped.append(SkippedFile(where, f"bad JSONL line: {_reason(error)}"))
    return documents


def _load_json(text: str, path: Path, skipped: list[SkippedFile]) -> list[Document]:
    """A ``.json`` file: one article object (its id defaults to the file stem), or a list
    of article objects, each with its own id, as scrapers and news APIs write them."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadFileError(f"not valid JSON: {error}") from error
    if isinstance(value, dict):
        try:
            return [_article(value, str(path), default_id=document_id(path))]
        except (ValidationError, InvalidDocumentIdError) as error:
            raise BadFileError(f"not an article object: {_reason(error)}") from error
    if not isinstance(value, list):
        raise BadFileError(
            'holds neither an article object nor a list of them: give {"text": ...} or '
            '[{"id": ..., "text": ...}, ...]'
        )
    documents = []
    for number, item in enumerate(value):
        where = f"{path}[{number}]"
        try:
            documents.append(_article(item, where))
        except (ValidationError, InvalidDocumentIdError) as error:
            skipped.append(SkippedFile(where, f"bad article: {_reason(error)}"))
    return documents


def load_file(path: Path, skipped: list[SkippedFile]) -> list[Document]:
    """Load one file into zero or more Documents; problems are appended to ``skipped``
    (their reasons name no path: :class:`SkippedFile` carries it)."""
    suffix = path.suffix.lower()
    try:
        if suffix not in SUPPORTED_SUFFIXES:
            raise BadFileError(
                f"unsupported file type {suffix or '(none)'}; "
                f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
            )
        html = suffix in (".html", ".htm")
        text = decode_text(path.read_bytes(), path, html)
        if suffix == ".jsonl":
            return _load_jsonl(text, path, skipped)
        if suffix == ".json":
            return _load_json(text, path, skipped)
        source = Source()
        if html:
            text, source = html_article(text)
        doc_id = validate_doc_id(document_id(path))
    except OSError as error:
        skipped.append(SkippedFile(str(path), f"could not be read: {error.strerror or error}"))
        return []
    except (BadFileError, InvalidDocumentIdError) as error:
        skipped.append(SkippedFile(str(path), str(error)))
        return []
    return [
        Document(
            doc_id=doc_id,
            text=text,
            path=str(path),
            title=source.title,
            source=source.source,
            published=source.published,
            url=source.url,
        )
    ]


def check_sources_exist(paths: Iterable[Path]) -> None:
    """Refuse sources that do not exist, before any model loads or anything is written.

    A file a folder holds but cannot be read is skipped and named, and the build goes on;
    a path the user typed that is not there is a mistake to fix first.

    Raises:
        SourceNotFoundError: Names every missing path.
    """
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise SourceNotFoundError(
            f"no such file or folder: {', '.join(missing)}; nothing was indexed, fix the path "
            "and run again"
        )


def iter_paths(paths: Iterable[Path], skipped: list[SkippedFile]) -> Iterator[Document]:
    """Read every supported file under ``paths`` one at a time (a build's memory stays
    bounded); duplicates of an id keep the first one, and what is skipped goes to
    ``skipped``."""
    seen: dict[str, str | None] = {}
    for path in iter_source_files(paths):
        if not path.exists():
            skipped.append(SkippedFile(str(path), "no such file or folder"))
            continue
        for document in load_file(path, skipped):
            if document.doc_id in seen:
                skipped.append(
                    SkippedFile(
                        str(path),
                        f"duplicate document id {document.doc_id!r} "
                        f"(already read from {seen[document.doc_id]}); rename one",
                    )
                )
                continue
            seen[document.doc_id] = document.path
            yield document


def load_paths(paths: Iterable[Path]) -> LoadResult:
    """Load every supported file under ``paths``; duplicates of an id keep the first one."""
    skipped: list[SkippedFile] = []
    documents = list(iter_paths(paths, skipped))
    return LoadResult(documents, skipped)
