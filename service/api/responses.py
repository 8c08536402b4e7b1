"""The error responses each route declares in the OpenAPI schema, in one place.

Every error body outside the chat routes is ``{"detail": "<message>"}``
(:class:`~service.schemas.ErrorResponse`), validation errors included: the schema says so
instead of FastAPI's default list of validation errors, which this service never sends.
"""

from __future__ import annotations

from typing import Any

from service.schemas import ErrorResponse

_DESCRIPTIONS = {
    400: "The body is not JSON or not UTF-8, or the document cannot be read as an article",
    401: "Missing or wrong key: send 'Authorization: Bearer <key>' (CITEQA_API_KEY for "
    "writes, CITEQA_READ_KEY or the write key for reads when a read key is set)",
    404: "No document with this id",
    413: "The body is larger than CITEQA_MAX_BODY_BYTES (a query: CITEQA_MAX_QUERY_BODY_BYTES)",
    415: "The body is not declared as JSON: send 'Content-Type: application/json'",
    422: "The request breaks the schema; `detail` names each field and what is wrong",
    429: "Over the client's rate limit (CITEQA_RATE_LIMIT_*); retry after Retry-After seconds",
    503: "No index is loaded yet, or the index is busy with other writes (see Retry-After)",
    504: "The query took longer than CITEQA_QUERY_TIMEOUT_S",
    507: "No space left on the index's disk; nothing was published, the old index is served",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer each of ``statuses`` with an error."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }
