"""Chat request errors; ``service/api/errors.py`` maps them to HTTP as every citeqa error, and
on the chat routes in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.errors import ServiceError


class ChatRequestError(ServiceError):
    """A chat request that cannot be answered as sent; ``param`` names the offending field.

    400, as OpenAI answers an invalid request; ``code`` says which rule it broke
    (``empty_question``, ``too_many_messages``, ``invalid_json``, ...).
    """

    def __init__(self, message: str, param: str | None = "messages", code: str | None = None):
        super().__init__(message, code=code, param=param)


class ConversationTooLargeError(ChatRequestError):
    """A conversation (or its body) over the size cap: 413, OpenAI's ``context_length_exceeded``."""

    code = "context_length_exceeded"


class ModelNotFoundError(ServiceError):
    """A model id other than ``citeqa``: 404, OpenAI's ``model_not_found``."""

    code = "model_not_found"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model")


def _field(location: Sequence[int | str]) -> str:
    """Pydantic's ``("messages", 0, "content")`` as OpenAI's ``messages[0].content``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


# A request can break the schema in thousands of places (a body of unknown keys): the
# message names the first few and counts the rest, so the reply stays small.
MAX_REPORTED_PROBLEMS = 10


def join_problems(first: Sequence[str], total: int) -> str:
    """The first :data:`MAX_REPORTED_PROBLEMS` of ``total`` problems, then a count of the rest."""
    shown = "; ".join(first[:MAX_REPORTED_PROBLEMS])
    hidden = total - min(len(first), MAX_REPORTED_PROBLEMS)
    return f"{shown}; and {hidden} more problems" if hidden > 0 else shown


def invalid_request(problems: Sequence[Mapping[str, Any]]) -> ChatRequestError:
    """Pydantic's validation problems with a chat request as one OpenAI error.

    A body that is not JSON is ``invalid_json``; one that breaks the schema is
    ``invalid_value``, its message naming each field and ``param`` the field they share.
    """
    if problems[0]["type"] == "json_invalid":
        return ChatRequestError(
            "the request body is not valid JSON", param=None, code="invalid_json"
        )
    first = problems[:MAX_REPORTED_PROBLEMS]
    message = join_problems(
        [f"{_field(p['loc']) or 'body'}: {p['msg']}" for p in first], len(problems)
    )
    # A union reports each member's failure ("content.str", "content.list[...]"): name the
    # field they share.
    shared = tuple(problems[0]["loc"])
    for problem in first[1:]:
        length = 0
        for mine, theirs in zip(shared, problem["loc"], strict=False):
            if mine != theirs:
                break
            length += 1
        shared = shared[:length]
    return ChatRequestError(message, param=_field(shared) or None, code="invalid_value")
