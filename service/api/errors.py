"""Exceptions to HTTP responses, in one place; no input produces a 500.

Every domain error is a :class:`~citeqa.errors.CiteqaError` and answers with its ``status``.
The body is ``{"detail": "<message>"}``, except under the OpenAI-compatible paths
(``/v1/chat/...``, ``/v1/models...``), where it is OpenAI's
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

from citeqa.errors import CiteqaError
from service.chat.errors import MAX_REPORTED_PROBLEMS, invalid_request, join_problems
from service.chat.schemas import OpenAIError, OpenAIErrorResponse

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
    """The response to ``error`` on ``path``: its ``status``, in the shape ``path`` speaks."""
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    if speaks_openai(path):
        # OpenAI answers a request it cannot process with 400; it has no 422.
        status = 400 if error.status == 422 else error.status
        return openai_error(status, str(error), error.param, error.code, headers)
    return JSONResponse({"detail": str(error)}, status_code=error.status, headers=headers)


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
