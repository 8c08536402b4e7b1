"""Read article files (.txt, .md, .html, .jsonl) into Documents; bad files are reported, not fatal.

The *original text* of a document is its decoded file text with line endings normalised to
``\\n`` (for HTML: the article text trafilatura extracts). Every offset in the index points
into that text, and the document store keeps it verbatim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator

from citeqa.types import Document, Source
from indexer.errors import BadFileError, InvalidDocumentIdError, SourceNotFoundError

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
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


class JsonlArticle(BaseModel, Source, frozen=True):
    """One line of a JSONL article file: an id, the text, and the source fields of
    ``citeqa.types.Source`` (all optional)."""

    id: str
    text: str

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


def iter_source_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield files under ``paths`` (folders recursively, sorted), skipping hidden ones."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(p.startswith(".") for p in child.parts[-1:]):
                    yield child
        else:
            yield path


def decode_text(raw: bytes, path: Path) -> str:
    """Decode file bytes as UTF-8 text or raise :class:`BadFileError` naming the file."""
    if not raw.strip():
        raise BadFileError(f"{path}: file is empty")
    if b"\x00" in raw:
        raise BadFileError(f"{path}: looks binary (contains NUL bytes); give a text article")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadFileError(
            f"{path}: not valid UTF-8 (byte {error.start}); re-save the file as UTF-8"
        ) from error
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _html_to_text(html: str, path: Path) -> str:
    try:
        import trafilatura

        text = trafilatura.extract(html, include_comments=False, include_tables=False)
    except Exception as error:  # a parser's failure is this file's problem, not the build's
        raise BadFileError(
            f"{path}: the HTML could not be parsed ({type(error).__name__}: {error}); "
            "save the article as .txt, or check that lxml_html_clean is installed"
        ) from error
    if not text or not text.strip():
        raise BadFileError(f"{path}: no article text found in this HTML page")
    return str(text)


def _load_jsonl(text: str, path: Path, skipped: list[SkippedFile]) -> list[Document]:
    documents = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            article = JsonlArticle.model_validate(json.loads(line))
            validate_doc_id(article.id)
        except (json.JSONDecodeError, ValidationError, InvalidDocumentIdError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            skipped.append(SkippedFile(f"{path}:{number}", f"bad JSONL line: {reason}"))
            continue
        documents.append(
            Document(
                doc_id=article.id,
                text=article.text.replace("\r\n", "\n"),
                title=article.title,
                source=article.source,
                url=article.url,
                published=article.published,
                path=f"{path}:{number}",
            )
        )
    return documents


def load_file(path: Path, skipped: list[SkippedFile]) -> list[Document]:
    """Load one file into zero or more Documents; problems are appended to ``skipped``."""
    suffix = path.suffix.lower()
    try:
        if suffix not in SUPPORTED_SUFFIXES:
            raise BadFileError(
                f"{path}: unsupported file type {suffix or '(none)'}; "
                f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
            )
        text = decode_text(path.read_bytes(), path)
        if suffix == ".jsonl":
            return _load_jsonl(text, path, skipped)
        if suffix in (".html", ".htm"):
            text = _html_to_text(text, path)
        doc_id = validate_doc_id(path.stem)
    except (BadFileError, InvalidDocumentIdError, OSError) as error:
        skipped.append(SkippedFile(str(path), str(error)))
        return []
    return [Document(doc_id=doc_id, text=text, path=str(path))]


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
            skipped.append(SkippedFile(str(path), f"{path}: no such file or folder"))
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
