"""Exceptions raised by the indexer; each message says what to do next.

They carry no HTTP status: ``service/api/errors.py`` maps each to one.
"""

from citeqa.errors import CiteqaError


class IndexerError(CiteqaError):
    """Base class for every indexer failure."""


class BadFileError(IndexerError):
    """A source file cannot be read as an article (empty, binary, undecodable, unsupported)."""


class SourceNotFoundError(IndexerError):
    """A file or folder named as a source does not exist."""


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

    retry_after_s = 5


class IndexDiskFullError(IndexerError):
    """The disk filled up during a write; nothing was published, the old generation stays."""


class SpacyModelMissingError(IndexerError):
    """The spaCy pipeline named by ``CITEQA_SPACY_MODEL`` is not installed."""


class ExportError(IndexerError):
    """An ONNX export of the embedding model does not reproduce the torch model's vectors."""


class QueryEncoderError(IndexerError):
    """The ONNX query encoder cannot reproduce the torch model; use torch instead.

    Never reaches a client: the embedder catches it and keeps torch.
    """


class RayBuildError(CiteqaError):
    """A Ray build was asked for with options it does not support, or a stage failed.

    Not an :class:`IndexerError`: the command line raises it, never a request, so the API
    would answer it as the server's problem.
    """
