"""Turns article files into a persistent hybrid index: load -> clean -> chunk -> embed -> store."""

from indexer.errors import (
    DocumentNotFoundError,
    IndexCorruptError,
    IndexerError,
    IndexMismatchError,
    IndexNotFoundError,
)
from indexer.index import Index, load_index
from indexer.report import BuildReport
from indexer.writer import IndexWriter

__all__ = [
    "BuildReport",
    "DocumentNotFoundError",
    "Index",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexWriter",
    "IndexerError",
    "load_index",
]
