"""Errors raised by the service itself; ``status`` is the HTTP status each answers with.

The indexer's errors (a missing document, a locked index, ...) carry their own status in
``indexer/errors.py``; ``service/api/errors.py`` maps every :class:`~citeqa.errors.CiteqaError`
by that attribute.
"""

from __future__ import annotations

from citeqa.errors import CiteqaError


class ServiceError(CiteqaError):
    """Base class for errors raised by the service itself."""


class NotReadyError(ServiceError):
    """The index or models are not loaded (yet)."""

    status = 503


class UnauthorizedError(ServiceError):
    """A write was attempted without the right API key."""

    status = 401


class DocumentRejectedError(ServiceError):
    """A document that was read but yields nothing to index (only boilerplate, say)."""

    status = 422


class InvalidQuestionError(ServiceError):
    """A question the engine cannot answer as asked (empty, or ``top_k`` below 1)."""

    status = 422


class PayloadTooLargeError(ServiceError):
    """The request body exceeds CITEQA_MAX_BODY_BYTES."""

    status = 413
