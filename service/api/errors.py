"""Exceptions to HTTP responses, in one place; no input produces a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from indexer.errors import IndexerError
from service.errors import ServiceError, status_code_for


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


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

    app.add_exception_handler(RequestValidationError, on_validation)
    # Domain errors only: a stray ValueError is a bug, and a 500 says so (a blanket 422
    # once hid an indexing crash behind "bad input").
    for error_type in (ServiceError, IndexerError):
        app.add_exception_handler(error_type, on_domain)
