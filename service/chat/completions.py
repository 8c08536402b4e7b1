"""The reply to a chat request: one `chat.completion`, or the chunks of a streamed one."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

from service.chat.schemas import (
    AssistantMessage,
    ChatCitations,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    ChunkDelta,
    Usage,
)

# Streamed content arrives in pieces of about this many characters, cut after whitespace.
PIECE_CHARS = 40
_TOKEN = re.compile(r"\S+\s*|\s+")


def split_content(text: str, size: int = PIECE_CHARS) -> list[str]:
    """Cut ``text`` after whitespace (and at every line end) into pieces of ~``size`` chars.

    The pieces join back to ``text`` exactly.

    Example:
        >>> split_content("92 [1]\\nSources:", size=40)
        ['92 [1]\\n', 'Sources:']
    """
    pieces: list[str] = []
    current = ""
    for token in _TOKEN.findall(text):
        current += token
        if len(current) >= size or current.endswith("\n"):
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def _word_count(text: str) -> int:
    return len(text.split())


def count_usage(prompt: str, content: str) -> Usage:
    """Words of ``prompt`` and ``content``: citeqa has no tokenizer of its own to count."""
    prompt_words, content_words = _word_count(prompt), _word_count(content)
    return Usage(
        prompt_tokens=prompt_words,
        completion_tokens=content_words,
        total_tokens=prompt_words + content_words,
    )


def make_completion(
    content: str, citations: ChatCitations, usage: Usage, model: str
) -> ChatCompletion:
    """A non-streamed reply, named after the ``model`` the request asked for."""
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=content))],
        usage=usage,
        citations=citations,
    )


def make_chunks(
    content: str, citations: ChatCitations, model: str, usage: Usage | None = None
) -> list[ChatCompletionChunk]:
    """The role, the content in pieces, then an empty delta with ``finish_reason`` and
    ``citations``; with ``usage`` (``stream_options.include_usage``), a last chunk with no
    choices that carries it, as OpenAI sends it."""
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: ChunkDelta, finish: bool = False) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            citations=citations if finish else None,
        )

    chunks = [
        chunk(ChunkDelta(role="assistant", content="")),
        *(chunk(ChunkDelta(content=piece)) for piece in split_content(content)),
        chunk(ChunkDelta(), finish=True),
    ]
    if usage is not None:
        chunks.append(
            ChatCompletionChunk(
                id=completion_id, created=created, model=model, choices=[], usage=usage
            )
        )
    return chunks


def server_sent_events(chunks: list[ChatCompletionChunk]) -> Iterator[str]:
    """``data: <chunk JSON>`` events, then ``data: [DONE]``, as OpenAI streams them."""
    for chunk in chunks:
        yield f"data: {chunk.model_dump_json()}\n\n"
    yield "data: [DONE]\n\n"
