"""From OpenAI messages to a question and a retrieval query that resolves follow-ups.

The latest user message is the question. A follow-up such as "and in February?" names too
little to retrieve on, so the retrieval query adds the content words of the previous user
questions that it does not already contain: "and in February? people Mexico extradited".
The answer type is still read from the latest question alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.answering.terms import word_spans
from service.chat.errors import ChatRequestError
from service.schemas import MAX_QUESTION_CHARS

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
    """What to answer (``question``) and what to retrieve with (``retrieval_query``)."""

    question: str
    retrieval_query: str


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
    return ChatQuery(question, resolve_follow_up(question, previous))
