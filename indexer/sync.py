"""What a folder no longer holds: the documents `citeqa index sync` removes.

A sync reads its folders as `add` does, then removes the documents the index read from
under those folders before and did not read this time: their file is gone, or their id left
a JSON or JSONL file (a bad item of such a file is no article, so it keeps none). It never
touches a document whose whole file was skipped this time (a file that cannot be read now is
not a file the user removed), one read from elsewhere, or one written through the API (it
records no path).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from citeqa.types import Document
from indexer.draft import Draft
from indexer.loaders import SUPPORTED_SUFFIXES, SkippedFile
from indexer.segment import STORE

# "feed.jsonl:12" and "feed.json[3]" name an article inside a file.
_ITEM = re.compile(r"(?::\d+|\[\d+\])$")


@dataclass
class Pruning:
    """The folders a sync mirrors, and the ids it has read from them so far."""

    roots: tuple[Path, ...]
    read: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, paths: Sequence[Path]) -> Pruning:
        """The pruning of a sync of ``paths`` (made absolute, as recorded paths are)."""
        return cls(tuple(Path(os.path.abspath(p)) for p in paths))

    def reading(self, documents: Iterator[Document]) -> Iterator[Document]:
        """``documents``, noting each id on the way past."""
        for document in documents:
            self.read.add(document.doc_id)
            yield document

    def stale(self, draft: Draft, skipped: Sequence[SkippedFile]) -> list[str]:
        """The ids in ``draft`` whose recorded file lies under the roots and that were not
        read; call once every document has been read."""
        kept = {file_of(s.path) for s in skipped if not _ITEM.search(s.path)}
        unread: dict[str, list[str]] = defaultdict(list)
        for doc_id, segment in draft.locations.items():
            if doc_id not in self.read:
                unread[segment].append(doc_id)
        stale = []
        for segment, doc_ids in unread.items():
            for doc_id, path in recorded_paths(draft.folder(segment) / STORE, doc_ids):
                file = file_of(path)
                if file is not None and file not in kept and self._under(file):
                    stale.append(doc_id)
        return sorted(stale)

    def _under(self, file: Path) -> bool:
        return any(file == root or file.is_relative_to(root) for root in self.roots)


def file_of(path: str | None) -> Path | None:
    """The file a document was read from, absolute, or None when it was read from no file.

    A path recorded relative (by versions before paths were absolute) is taken from the
    current folder, as it was written. Only an article file's name counts: a document
    written through the API records "api", which is no file, even beside a folder so named.
    """
    if not path:
        return None
    file = Path(os.path.abspath(_ITEM.sub("", path)))
    return file if file.suffix.lower() in SUPPORTED_SUFFIXES else None


def recorded_paths(store: Path, doc_ids: Sequence[str]) -> list[tuple[str, str | None]]:
    """``(doc_id, path)`` of ``doc_ids`` in one segment's document store."""
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        wanted = set(doc_ids)
        rows = connection.execute("SELECT doc_id, path FROM documents")
        return [(str(doc_id), path) for doc_id, path in rows if doc_id in wanted]
    finally:
        connection.close()
