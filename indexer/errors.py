"""Exceptions raised by the indexer; each message says what to do next."""


class IndexerError(Exception):
    """Base class for every indexer failure."""


class BadFileError(IndexerError):
    """A source file cannot be read as an article (empty, binary, undecodable, unsupported)."""


class IndexNotFoundError(IndexerError):
    """No index generation exists in the index directory."""


class IndexMismatchError(IndexerError):
    """The index was built with another model, dimension or format version."""


class IndexCorruptError(IndexerError):
    """The parts of an index generation disagree or cannot be read."""


class DocumentNotFoundError(IndexerError):
    """A document id is not in the index."""


class InvalidDocumentIdError(IndexerError):
    """A document id is outside the allowed pattern."""


class IndexLockedError(IndexerError):
    """Another writer holds the index's writer lock for longer than the timeout."""


class IndexDiskFullError(IndexerError):
    """The disk filled up during a write; nothing was published, the old generation stays."""
