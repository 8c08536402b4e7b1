"""Exceptions to HTTP responses, in one place; no input produces a 500.

Every domain error is a :class:`~citeqa.errors.CiteqaError`; domain errors carry no HTTP
status, and :data:`HTTP_STATUS` below is the one table that gives each its code. The body
is ``{"detail": "<message>"}``, except under the OpenAI-compatible paths (``/v1/chat/...``,
``/v1/models...``), where it is OpenAI's
``{"error": {"message", "type", "param", "code"}}`` so that OpenAI clients show the message.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from citeqa.errors import CiteqaError, RayClusterError
from citeqa.integrations.errors import ServiceCallError
from indexer.errors import (
    DocumentNotFoundError,
    ExportError,
    IndexCorruptError,
    IndexDiskFullError,
    IndexerError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidDocumentIdError,
    QueryEncoderError,
    SpacyModelMissingError,
)
from service.chat.errors import (
    MAX_REPORTED_PROBLEMS,
    ChatRequestError,
    ConversationTooLargeError,
    ModelNotFoundError,
    invalid_request,
    join_problems,
)
from service.chat.schemas import OpenAIError, OpenAIErrorResponse
from service.errors import (
    DocumentRejectedError,
    InvalidQuestionError,
    NotReadyError,
    PayloadTooLargeError,
    QueryTimeoutError,
    RateLimitedError,
    ShardError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    WriteBusyError,
)

# The HTTP status of each domain error. A class not listed answers with its nearest listed
# base class's status; an error no request can cause (a reader or export that fails, an
# evaluation) is the server's problem, so the base, CiteqaError, is 500.
HTTP_STATUS: Mapping[type[CiteqaError], int] = {
    CiteqaError: 500,
    # The server's own models failing, under the indexer's errors: never a request's fault.
    ExportError: 500,
    QueryEncoderError: 500,
    # A request that names a bad file or option: the client's to fix.
    IndexerError: 400,
    ChatRequestError: 400,
    UnauthorizedError: 401,
    DocumentNotFoundError: 404,
    ModelNotFoundError: 404,
    PayloadTooLargeError: 413,
    ConversationTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    InvalidDocumentIdError: 422,
    DocumentRejectedError: 422,
    InvalidQuestionError: 422,
    RateLimitedError: 429,
    ServiceCallError: 502,
    # The server cannot answer now (no index, a busy writer, a shard down) or is set up wrong
    # (a spaCy model missing): nothing the client sends can fix it, a retry or an operator can.
    NotReadyError: 503,
    WriteBusyError: 503,
    IndexNotFoundError: 503,
    IndexMismatchError: 503,
    IndexCorruptError: 503,
    IndexLockedError: 503,
    SpacyModelMissingError: 503,
    ShardError: 503,
    RayClusterError: 503,
    QueryTimeoutError: 504,
    # Insufficient Storage: the write can succeed once space is freed.
    IndexDiskFullError: 507,
}


def http_status(error: CiteqaError) -> int:
    """The HTTP status ``error`` answers with: its class's entry in :data:`HTTP_STATUS`, or
    its nearest base class's.

    Example:
        >>> http_status(IndexLockedError("the index is busy; retry"))
        503
        >>> http_status(InvalidDocumentIdError("no '..' in ids"))
        422
    """
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500  # unreachable while CiteqaError has an entry; a safe answer all the same


# Paths whose clients are OpenAI clients, typos under them included (a client that posts to
# /v1/chat/completion should still read why it failed).
OPENAI_PATHS = ("/v1/chat/", "/v1/models")


def speaks_openai(path: str) -> bool:
    """Whether errors on ``path`` take OpenAI's shape."""
    return path.startswith(OPENAI_PATHS)


def openai_error(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """OpenAI's error object: ``server_error`` for a 5xx, else ``invalid_request_error``."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    body = OpenAIErrorResponse(
        error=OpenAIError(message=message, type=kind, param=param, code=code)
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def error_response(path: str, error: CiteqaError) -> JSONResponse:
    """The response to ``error`` on ``path``: its status, in the shape ``path`` speaks."""
    status = http_status(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    if speaks_openai(path):
        # OpenAI answers a request it cannot process with 400; it has no 422.
        openai_status = 400 if status == 422 else status
        return openai_error(openai_status, str(error), error.param, error.code, headers)
    return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    problems = error.errors()
    parts = []
    for item in problems[:MAX_REPORTED_PROBLEMS]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return join_problems(parts, len(problems))


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path, then OPTIONS.

    Starlette's 405 names only the methods of the first route that matched the path, so
    GET /v1/documents/{id} hid DELETE from the ``Allow`` header. Each method is tried on a
    fresh scope: the request's own carries the route that refused it.
    """
    allowed = []
    for method in _METHODS:
        scope = {
            "type": "http",
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "method": method,
            "headers": [],
        }
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return [*allowed, "OPTIONS"]


def where_json_broke(body: bytes, position: int, reason: str) -> str:
    """A JSON parse error as a person reads it: the reason, then line and column.

    Example:
        >>> where_json_broke(b'{"question": "x",\\n "top_k": }', 28, "Expecting value")
        'body is not valid JSON: Expecting value at line 2, column 11 (character 28)'
    """
    text = body.decode("utf-8", errors="replace")
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return (
        f"body is not valid JSON: {reason} at line {line}, column {column} (character {position})"
    )


async def _on_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # A body that is not JSON is 400, as one that is not UTF-8 is; 422 is for JSON
    # that breaks the schema.
    broken = [item for item in error.errors() if item.get("type") == "json_invalid"]
    unparsable = bool(broken)
    status = 400 if unparsable else 422
    if speaks_openai(request.url.path):
        problems = [
            {**item, "loc": tuple(p for p in item.get("loc", ()) if p != "body")}
            for item in error.errors()
        ]
        chat_error = invalid_request(problems)
        return openai_error(status, str(chat_error), chat_error.param, chat_error.code)
    if broken:
        # FastAPI names only the character ("1: JSON decode error"); the body is still at
        # hand (Starlette keeps it once read), so say the line and column too.
        location = broken[0].get("loc", ())
        position = location[-1] if location and isinstance(location[-1], int) else 0
        reason = str(broken[0].get("ctx", {}).get("error", "JSON decode error"))
        message = where_json_broke(await request.body(), position, reason)
        return JSONResponse({"detail": message}, status_code=status)
    return JSONResponse({"detail": _validation_message(error)}, status_code=status)


async def _on_domain(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CiteqaError)
    return error_response(request.url.path, error)


async def _on_http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    # Routes name what they allow; a 405 without an Allow header (StaticFiles') is left as is.
    if error.status_code == 405 and "Allow" in headers:
        headers["Allow"] = ", ".join(allowed_methods(request))
        if request.method == "OPTIONS":  # a path's OPTIONS is answered, not refused
            return Response(status_code=204, headers=headers)
    if speaks_openai(request.url.path):
        return openai_error(error.status_code, str(error.detail), headers=headers)
    if error.status_code != 405 or "Allow" not in headers:
        return await http_exception_handler(request, error)
    return JSONResponse({"detail": error.detail}, status_code=405, headers=headers)


async def _on_crash(request: Request, error: Exception) -> Response:
    # Starlette's own answer, except that OpenAI clients get a message they can show.
    if speaks_openai(request.url.path):
        return openai_error(500, "internal server error; the server log has the details")
    return PlainTextResponse("Internal Server Error", status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to one response shape (OpenAI's under the chat routes)."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    # Domain errors only: a stray ValueError is a bug, and a 500 says so (a blanket 422
    # once hid an indexing crash behind "bad input").
    app.add_exception_handler(CiteqaError, _on_domain)
    app.add_exception_handler(Exception, _on_crash)
