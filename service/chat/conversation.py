"""From OpenAI messages to a question and a retrieval query that resolves follow-ups.

The latest user message is the question. A follow-up such as "and in February?" names too
little to retrieve on, so the retrieval query adds the content words of the previous user
questions that it does not already contain: "and in February? people Mexico extradited".
The answer type is still read from the latest question alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from citeqa.text import word_spans
from service.chat.errors import ChatRequestError, ConversationTooLargeError
from service.schemas import MAX_QUESTION_CHARS

# A conversation citeqa reads at most: its answer uses the last three user turns, so more
# is only cost (and a way to keep a worker busy for nothing).
MAX_CONVERSATION_CHARS = 65_536
MAX_MESSAGES = 50
# JSON escapes take up to 6 bytes per character; a bigger body cannot be under the cap.
MAX_CHAT_BODY_BYTES = 6 * MAX_CONVERSATION_CHARS + 64 * 1024
# Previous user turns searched for context: two carry "Q1 -> and in March? -> and in May?".
HISTORY_TURNS = 2
# Keeps a long earlier message from drowning the question in retrieval.
MAX_CONTEXT_WORDS = 12
# Words that ask rather than name; the shared stop-word list keeps them for span scoring.
_ASKING_WORDS = frozenset(
    {"how", "what", "who", "whom", "whose", "when", "where", "which", "why", "about", "tell"}
    | {"has", "have", "had", "do", "was", "were", "is", "are", "can", "could", "would"}
)


@dataclass(frozen=True)
class ChatQuery:
    """What to answer (``question``), retrieve with and read with.

    ``reading_question`` is what the span reader reads: a follow-up such as "and in
    February?" means nothing alone, so it is read after the question it follows.
    """

    question: str
    retrieval_query: str
    reading_question: str


def content_words(text: str) -> list[tuple[str, str]]:
    """``(word, stem)`` for each content word of ``text``, in order."""
    return [
        (text[start:end], stem)
        for start, end, stem in word_spans(text)
        if text[start:end].lower() not in _ASKING_WORDS
    ]


def resolve_follow_up(question: str, previous: Sequence[str]) -> str:
    """``question`` plus the content words of ``previous`` (newest first) it lacks.

    Example:
        >>> resolve_follow_up("and in February?", ["How many people has Mexico extradited?"])
        'and in February? people Mexico extradited'
    """
    seen = {stem for _, stem in content_words(question)}
    added: list[str] = []
    for earlier in reversed(previous[-HISTORY_TURNS:]):
        for word, stem in content_words(earlier):
            if stem not in seen and len(added) < MAX_CONTEXT_WORDS:
                seen.add(stem)
                added.append(word)
    return " ".join([question, *added])


def check_conversation_size(texts: Sequence[str]) -> None:
    """Refuse conversations over :data:`MAX_MESSAGES` turns or :data:`MAX_CONVERSATION_CHARS`.

    Raises:
        ChatRequestError: too many messages (400).
        ConversationTooLargeError: too much text (413).
    """
    if len(texts) > MAX_MESSAGES:
        raise ChatRequestError(
            f"messages holds {len(texts)} turns; citeqa reads at most {MAX_MESSAGES}: "
            "send only the recent ones",
            code="too_many_messages",
        )
    size = sum(len(text) for text in texts)
    if size > MAX_CONVERSATION_CHARS:
        raise ConversationTooLargeError(
            f"the conversation holds {size} characters of text; citeqa reads at most "
            f"{MAX_CONVERSATION_CHARS}: send only the recent turns"
        )


def build_chat_query(user_messages: Sequence[str]) -> ChatQuery:
    """The question and retrieval query for a conversation's user messages, oldest first.

    Raises:
        ChatRequestError: no user message, or the latest one is blank or too long.
    """
    if not user_messages:
        raise ChatRequestError(
            "messages has no user message: send the question as role 'user'",
            code="missing_user_message",
        )
    question = user_messages[-1].strip()
    if not question:
        raise ChatRequestError(
            "the last user message is empty or only whitespace: ask something",
            code="empty_question",
        )
    if len(question) > MAX_QUESTION_CHARS:
        raise ChatRequestError(
            f"the last user message is {len(question)} characters; questions are limited "
            f"to {MAX_QUESTION_CHARS}",
            code="question_too_long",
        )
    previous = [text.strip() for text in user_messages[:-1] if text.strip()]
    retrieval_query = resolve_follow_up(question, previous)
    reading = question if retrieval_query == question else f"{previous[-1]} {question}"
    return ChatQuery(question, retrieval_query, reading)
