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


class WriteBusyError(ServiceError):
    """A write did not get its turn in time (other writes, or another process's writer)."""

    status = 503


class UnauthorizedError(ServiceError):
    """A write was attempted without the right API key."""

    status = 401


class QueryTimeoutError(ServiceError):
    """A query ran past CITEQA_QUERY_TIMEOUT_S."""

    status = 504


class RateLimitedError(ServiceError):
    """A client sent more requests (or failed authentications) than its rate limit allows."""

    status = 429


class UnsupportedMediaTypeError(ServiceError):
    """A body that is not declared as JSON where only JSON is read."""

    status = 415


class DocumentRejectedError(ServiceError):
    """A document that was read but yields nothing to index (only boilerplate, say)."""

    status = 422


class InvalidQuestionError(ServiceError):
    """A question the engine cannot answer as asked (empty, or ``top_k`` below 1)."""

    status = 422


class PayloadTooLargeError(ServiceError):
    """The request body exceeds CITEQA_MAX_BODY_BYTES."""

    status = 413


class ShardError(ServiceError):
    """A shard of a sharded index failed a request; the message names the shard."""

    status = 503

    def __init__(self, message: str, *, shard: int | None = None) -> None:
        super().__init__(message)
        self.shard = shard

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable with its shard: a shard process (a Ray replica) raises it to the caller.
        return (type(self), (str(self),), {"shard": self.shard})


class ShardUnavailableError(ShardError):
    """A shard could not be reached or failed: the query fails rather than answer from part
    of the corpus."""


class ShardGenerationError(ShardError):
    """A shard serves another generation than the one a query pinned (an index switch is
    under way): the query is refused rather than mix two manifests; retry it."""
