"""Exceptions to HTTP responses, in one place; no input produces a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from indexer.errors import IndexerError
from service.errors import ServiceError, status_code_for


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


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


def install_error_handlers(app: FastAPI) -> None:
    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        # A body that is not JSON is 400, as one that is not UTF-8 is; 422 is for JSON
        # that breaks the schema.
        unparsable = any(item.get("type") == "json_invalid" for item in error.errors())
        return JSONResponse(
            {"detail": _validation_message(error)}, status_code=400 if unparsable else 422
        )

    async def on_domain(request: Request, error: Exception) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status_code_for(error) == 401 else None
        return JSONResponse(
            {"detail": str(error)}, status_code=status_code_for(error), headers=headers
        )

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        # Routes name what they allow; a 405 without an Allow header (StaticFiles') is left as is.
        if error.status_code != 405 or "Allow" not in (error.headers or {}):
            return await http_exception_handler(request, error)
        allow = {"Allow": ", ".join(allowed_methods(request))}
        if request.method == "OPTIONS":  # a path's OPTIONS is answered, not refused
            return Response(status_code=204, headers=allow)
        return JSONResponse({"detail": error.detail}, status_code=405, headers=allow)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    # Domain errors only: a stray ValueError is a bug, and a 500 says so (a blanket 422
    # once hid an indexing crash behind "bad input").
    for error_type in (ServiceError, IndexerError):
        app.add_exception_handler(error_type, on_domain)
