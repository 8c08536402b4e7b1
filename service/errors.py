"""Errors raised by the service itself.

Like every domain error they carry no HTTP status: the one table in ``service/api/errors.py``
maps each :class:`~citeqa.errors.CiteqaError` to its status.
"""

from __future__ import annotations

from citeqa.errors import CiteqaError


class ServiceError(CiteqaError):
    """Base class for errors raised by the service itself."""


class AddressUnavailableError(ServiceError):
    """`citeqa serve` cannot listen on its host and port (in use, not allowed, no such
    address); checked before the models load, so the user waits for nothing."""


class NotReadyError(ServiceError):
    """The index or models are not loaded (yet)."""


class WriteBusyError(ServiceError):
    """A write did not get its turn in time (other writes, or another process's writer)."""


class UnauthorizedError(ServiceError):
    """A write was attempted without the right API key."""


class QueryTimeoutError(ServiceError):
    """A query ran past CITEQA_QUERY_TIMEOUT_S."""


class RateLimitedError(ServiceError):
    """A client sent more requests (or failed authentications) than its rate limit allows."""


class UnsupportedMediaTypeError(ServiceError):
    """A body that is not declared as JSON where only JSON is read."""


class DocumentRejectedError(ServiceError):
    """A document that was read but yields nothing to index (only boilerplate, say)."""


class InvalidQuestionError(ServiceError):
    """A question the engine cannot answer as asked (empty, or ``top_k`` below 1)."""


class PayloadTooLargeError(ServiceError):
    """The request body exceeds CITEQA_MAX_BODY_BYTES."""


class ShardError(ServiceError):
    """A shard of a sharded index failed a request; the message names the shard."""

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
