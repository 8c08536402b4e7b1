"""OpenAI chat-completions request and response models (pydantic at the edge).

Requests accept what OpenAI clients send and ignore fields citeqa has no use for
(temperature, max_tokens, tools, ...). Responses follow OpenAI's shapes, name the model the
request asked for, and add ``citations``: the /v1/query response for the same question,
plus the retrieval query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from citeqa.types import Document, QueryResult
from service.schemas import QueryResponse

MODEL_ID = "citeqa"


def _is_none(value: Any) -> bool:
    return value is None


class ContentPart(BaseModel):
    """One part of a message's content; only ``{"type": "text"}`` parts are read."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text: the string, or its text parts joined by newlines."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "\n".join(part.text for part in self.content if part.type == "text" and part.text)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: StrictBool = False  # a last chunk with ``usage`` and no choices


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Any name is answered by citeqa, and echoed back: clients with a hard-coded model name
    # still work, and see the name they sent.
    model: str = Field(default=MODEL_ID, max_length=256)
    messages: list[ChatMessage]
    stream: StrictBool = False  # "yes" is not a boolean
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _stream_options_need_a_stream(self) -> ChatCompletionRequest:
        if self.stream_options is not None and not self.stream:
            # OpenAI refuses it too: the options would be silently ignored otherwise.
            raise ValueError("stream_options is only allowed with 'stream': true")
        return self

    def user_messages(self) -> list[str]:
        """The text of every user message, in order."""
        return [message.text() for message in self.messages if message.role == "user"]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ChatCitations(QueryResponse, frozen=True):
    """The /v1/query response for the question, and the query that retrieved its passages."""

    retrieval_query: str

    @classmethod
    def of_result(
        cls, result: QueryResult, documents: Mapping[str, Document], retrieval_query: str
    ) -> ChatCitations:
        """The query response's citations for a chat answer, with the query that was searched."""
        response = QueryResponse.of(result, documents)
        return cls(**response.model_dump(), retrieval_query=retrieval_query)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Word counts: citeqa has no tokenizer of its own, and nothing is billed."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    usage: Usage
    citations: ChatCitations


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = Field(default=None, exclude_if=_is_none)
    content: str | None = Field(default=None, exclude_if=_is_none)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    choices: list[ChunkChoice]
    citations: ChatCitations | None = Field(default=None, exclude_if=_is_none)
    usage: Usage | None = Field(default=None, exclude_if=_is_none)


class OpenAIError(BaseModel):
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIError
