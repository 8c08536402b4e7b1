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


def make_completion(content: str, citations: ChatCitations, prompt: str) -> ChatCompletion:
    """A non-streamed reply; ``usage`` counts words of ``prompt`` and ``content``."""
    prompt_words, content_words = _word_count(prompt), _word_count(content)
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        choices=[Choice(message=AssistantMessage(content=content))],
        usage=Usage(
            prompt_tokens=prompt_words,
            completion_tokens=content_words,
            total_tokens=prompt_words + content_words,
        ),
        citations=citations,
    )


def make_chunks(content: str, citations: ChatCitations) -> list[ChatCompletionChunk]:
    """The role, the content in pieces, then an empty delta with ``finish_reason`` and
    ``citations``."""
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: ChunkDelta, finish: bool = False) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=completion_id,
            created=created,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            citations=citations if finish else None,
        )

    return [
        chunk(ChunkDelta(role="assistant", content="")),
        *(chunk(ChunkDelta(content=piece)) for piece in split_content(content)),
        chunk(ChunkDelta(), finish=True),
    ]


def server_sent_events(chunks: list[ChatCompletionChunk]) -> Iterator[str]:
    """``data: <chunk JSON>`` events, then ``data: [DONE]``, as OpenAI streams them."""
    for chunk in chunks:
        yield f"data: {chunk.model_dump_json()}\n\n"
    yield "data: [DONE]\n\n"
