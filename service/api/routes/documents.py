"""Documents: list, read (with the original text), add or replace, delete."""

from __future__ import annotations

import json
import threading
import weakref
from bisect import bisect_right
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from citeqa.types import Document
from indexer.errors import BadFileError, DocumentNotFoundError
from indexer.index import Index
from indexer.loaders import DOC_ID_PATTERN
from service.api import examples
from service.api.deps import JsonBody, MetricsDep, StateDep, WriteAccess
from service.api.openapi import json_body
from service.api.responses import error_responses
from service.errors import DocumentRejectedError
from service.schemas import (
    DOCUMENT_KEYS,
    DocumentCreate,
    DocumentPublic,
    DocumentsPublic,
    DocumentStatus,
    DocumentSummary,
    DocumentWriteResult,
)

router = APIRouter(prefix="/v1/documents", tags=["documents"])
DocIdPath = Annotated[str, Path(pattern=DOC_ID_PATTERN.pattern, max_length=128)]
# A listing reads one page, never every document: at a million documents the whole list
# would read every text from SQLite and answer hundreds of megabytes.
PAGE = 100
MAX_PAGE = 1000


@router.get(
    "",
    response_model=DocumentsPublic,
    summary="List the indexed documents",
    responses=examples.ok(examples.DOCUMENTS) | error_responses(401, 422, 503),
)
def list_documents(
    state: StateDep,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Documents per page (1-{MAX_PAGE}).")
    ] = PAGE,
    after: Annotated[
        str | None,
        Query(
            pattern=DOC_ID_PATTERN.pattern,
            max_length=128,
            description="The page after this id: the previous page's `last_id`.",
        ),
    ] = None,
) -> DocumentsPublic:
    """List the indexed documents by id, a page at a time, with their citation metadata
    and chunk counts; ``has_more`` says whether to ask again with ``after=last_id``."""
    with state.serving() as engine:
        index = engine.index
        ids = _sorted_ids(index)
        start = bisect_right(ids, after) if after is not None else 0
        page = list(ids[start : start + limit])
        found = index.documents.many(page)
        data = [DocumentSummary.of(found[i], index.chunk_count(i)) for i in page]
    return DocumentsPublic(
        data=data,
        count=len(ids),
        has_more=start + limit < len(ids),
        last_id=page[-1] if page else None,
    )


# The ids of each generation served, sorted once (a million take about a second).
_SORTED: weakref.WeakKeyDictionary[Index, tuple[str, ...]] = weakref.WeakKeyDictionary()
_SORTING = threading.Lock()


def _sorted_ids(index: Index) -> tuple[str, ...]:
    with _SORTING:
        ids = _SORTED.get(index)
        if ids is None:
            ids = _SORTED[index] = tuple(sorted(index.documents))
    return ids


@router.get(
    "/{doc_id}",
    response_model=DocumentPublic,
    summary="Read one document and its original text",
    responses=examples.ok(examples.DOCUMENT) | error_responses(401, 404, 422, 503),
)
def get_document(doc_id: DocIdPath, state: StateDep) -> DocumentPublic:
    """One document: its full text and citation metadata, so any cited span can be checked."""
    with state.serving() as engine:
        document = engine.index.documents.get(doc_id)
        chunks = engine.index.chunk_count(doc_id) if document is not None else 0
    if document is None:
        raise DocumentNotFoundError(f"no document {doc_id!r}; list ids with GET /v1/documents")
    return DocumentPublic.of(document, chunks)


def _parse_document(raw: bytes) -> DocumentCreate:
    """Parse and check a document body; in a worker thread, as a big one takes a while.

    Unknown fields are refused before pydantic sees the body: it checks a body in one call
    that holds the interpreter's lock, and a body of many unknown keys held it long enough
    to stall the event loop even from a worker thread.

    Raises:
        RequestValidationError: the body is not JSON (400) or not a document (422), reported
            as FastAPI reports a body it parsed itself.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise _invalid("json_invalid", error.pos, "JSON decode error", {}) from None
    except UnicodeDecodeError:
        raise _invalid("json_invalid", 0, "the body is not UTF-8", {}) from None
    if isinstance(data, dict):
        unknown = [key for key in data if key not in DOCUMENT_KEYS]
        if unknown:
            message = "Extra inputs are not permitted"
            raise RequestValidationError(
                [
                    {"type": "extra_forbidden", "loc": ("body", key), "msg": message, "input": None}
                    for key in unknown
                ]
            )
    try:
        return DocumentCreate.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in problems]
        ) from None


def _document_of(raw: bytes) -> Document:
    """The document a body describes; a web page is read here too, off the event loop.

    Raises:
        RequestValidationError: as :func:`_parse_document`.
        DocumentRejectedError: the web page holds no article text (422).
    """
    try:
        return _parse_document(raw).to_document()
    except BadFileError as error:
        raise DocumentRejectedError(f"document not indexed: {error}", param="html") from error


def _invalid(kind: str, where: int, message: str, value: object) -> RequestValidationError:
    return RequestValidationError(
        [{"type": kind, "loc": ("body", where), "msg": message, "input": value}]
    )


@router.post(
    "",
    response_model=DocumentWriteResult,
    dependencies=[WriteAccess, JsonBody],
    summary="Add or replace a document (API key)",
    responses=examples.ok(examples.WRITE_RESULT)
    | error_responses(400, 401, 413, 415, 422, 503, 507),
    openapi_extra=json_body(DocumentCreate, example=examples.DOCUMENT_CREATE),
)
async def put_document(
    request: Request, state: StateDep, metrics: MetricsDep
) -> DocumentWriteResult:
    """Add a document, or replace the one with the same id; unchanged text is a no-op.

    The body is a :class:`DocumentCreate`. A write waits at most CITEQA_HTTP_WRITE_WAIT_S for
    its turn (503 with Retry-After).
    """
    # Parsed here, in the thread pool, not by FastAPI on the event loop: up to
    # CITEQA_MAX_BODY_BYTES of JSON would stall every other request meanwhile.
    document = await run_in_threadpool(_document_of, await request.body())
    with metrics.recording_write("add") as write:
        report = await state.writes.run(lambda wait_s: state.add_documents([document], wait_s))
        if report.skipped:
            raise DocumentRejectedError(f"document not indexed: {report.skipped[0].reason}")
        status: DocumentStatus = (
            "added" if report.added else "replaced" if report.replaced else "unchanged"
        )
        write.result = status
    return DocumentWriteResult(
        doc_id=document.doc_id,
        status=status,
        documents=report.documents,
        chunks=report.chunks,
        generation=report.generation,
    )


@router.delete(
    "/{doc_id}",
    response_model=DocumentWriteResult,
    dependencies=[WriteAccess],
    summary="Delete a document (API key)",
    responses=examples.ok(examples.DELETE_RESULT) | error_responses(401, 404, 422, 503, 507),
)
async def delete_document(
    doc_id: DocIdPath, state: StateDep, metrics: MetricsDep
) -> DocumentWriteResult:
    """Delete a document; the index is rewritten as a new generation and served at once."""
    with metrics.recording_write("delete") as write:
        report = await state.writes.run(lambda wait_s: state.delete_documents([doc_id], wait_s))
        write.result = "deleted"
    return DocumentWriteResult(
        doc_id=doc_id,
        status="deleted",
        documents=report.documents,
        chunks=report.chunks,
        generation=report.generation,
    )
