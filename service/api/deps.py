"""Dependencies shared by the routes: the loaded state and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from service.errors import UnauthorizedError, UnsupportedMediaTypeError
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    """The service state the app was started with."""
    state: ServiceState = request.app.state.citeqa
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def write_key_refusal(authorization: str | None, expected: str) -> UnauthorizedError | None:
    """Why a write with this ``Authorization`` header is refused, or None when the key is
    right (compared in constant time)."""
    if not expected:
        return UnauthorizedError(
            "writes are disabled: set CITEQA_API_KEY on the server and send it as "
            "'Authorization: Bearer <key>'"
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        return UnauthorizedError("missing or wrong API key: send 'Authorization: Bearer <key>'")
    return None


def require_api_key(state: StateDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Writes need ``Authorization: Bearer <CITEQA_API_KEY>`` (compared in constant time)."""
    refusal = write_key_refusal(authorization, state.settings.api_key)
    if refusal is not None:
        raise refusal


WriteAccess = Depends(require_api_key)


def require_json(request: Request) -> None:
    """A body read as JSON must say so: a web page can send ``text/plain`` to any site
    without asking (no CORS preflight), and would spend this server's CPU on its visitors'
    behalf.
    """
    # Read from the request, not declared as a parameter: the chat route declares no 422.
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"the body must be JSON sent with 'Content-Type: application/json', not "
            f"{media_type or 'no content type'!r}"
        )


JsonBody = Depends(require_json)
