"""Service-level exceptions and their HTTP status codes, in one place."""

from __future__ import annotations

from indexer.errors import (
    DocumentNotFoundError,
    IndexCorruptError,
    IndexDiskFullError,
    IndexerError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidDocumentIdError,
)


class ServiceError(Exception):
    """Base class for errors raised by the service itself."""


class NotReadyError(ServiceError):
    """The index or models are not loaded (yet)."""


class UnauthorizedError(ServiceError):
    """A write was attempted without the right API key."""


class DocumentRejectedError(ServiceError):
    """A document that was read but yields nothing to index (only boilerplate, say)."""


class PayloadTooLargeError(ServiceError):
    """The request body exceeds CITEQA_MAX_BODY_BYTES."""


STATUS_CODES: dict[type[Exception], int] = {
    DocumentNotFoundError: 404,
    InvalidDocumentIdError: 422,
    DocumentRejectedError: 422,
    UnauthorizedError: 401,
    PayloadTooLargeError: 413,
    NotReadyError: 503,
    IndexNotFoundError: 503,
    IndexMismatchError: 503,
    IndexCorruptError: 503,
    IndexLockedError: 503,
    IndexDiskFullError: 507,  # Insufficient Storage: the write can succeed once space is freed
    IndexerError: 400,
}


def status_code_for(error: Exception) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500
