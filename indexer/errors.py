"""Exceptions raised by the indexer; each message says what to do next.

``status`` is the HTTP status the API answers with when a request runs into the error.
"""

from citeqa.errors import CiteqaError


class IndexerError(CiteqaError):
    """Base class for every indexer failure."""

    status = 400


class BadFileError(IndexerError):
    """A source file cannot be read as an article (empty, binary, undecodable, unsupported)."""


class SourceNotFoundError(IndexerError):
    """A file or folder named as a source does not exist."""


class IndexNotFoundError(IndexerError):
    """No index generation exists in the index directory."""

    status = 503


class IndexMismatchError(IndexerError):
    """The index was built with another model, dimension or format version."""

    status = 503


class IndexCorruptError(IndexerError):
    """The parts of an index generation disagree or cannot be read."""

    status = 503


class DocumentNotFoundError(IndexerError):
    """A document id is not in the index."""

    status = 404


class InvalidDocumentIdError(IndexerError):
    """A document id is outside the allowed pattern."""

    status = 422


class IndexLockedError(IndexerError):
    """Another writer holds the index's writer lock for longer than the timeout."""

    status = 503
    retry_after_s = 5


class IndexDiskFullError(IndexerError):
    """The disk filled up during a write; nothing was published, the old generation stays."""

    status = 507  # Insufficient Storage: the write can succeed once space is freed


class SpacyModelMissingError(IndexerError):
    """The spaCy pipeline named by ``CITEQA_SPACY_MODEL`` is not installed."""

    status = 503  # the server is set up wrong; nothing the client sends can fix it


class QueryEncoderError(IndexerError):
    """The ONNX query encoder cannot reproduce the torch model; use torch instead.

    Never reaches a client: the embedder catches it and keeps torch.
    """

    status = 500
