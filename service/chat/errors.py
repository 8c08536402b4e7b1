"""Chat request errors; the chat routes report them as OpenAI error objects."""

from __future__ import annotations


class ChatRequestError(ValueError):
    """A chat request that cannot be answered as sent; ``param`` names the offending field."""

    def __init__(
        self,
        message: str,
        param: str | None = "messages",
        code: str | None = None,
        status: int = 400,
    ):
        super().__init__(message)
        self.param = param
        self.code = code
        self.status = status
