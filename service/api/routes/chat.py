"""OpenAI-compatible chat: `GET /v1/models`, `GET /v1/models/{id}` and
`POST /v1/chat/completions`.

Point any OpenAI client (or Open WebUI) at ``http://<host>:<port>/v1``: it lists one model,
``citeqa``, and answers the last user message extractively from the indexed articles.

Like /v1/query, chat is a read: no API key is needed, and an ``Authorization`` header (the
OpenAI clients always send one) is ignored. Any ``model`` name is accepted, answered by
citeqa and echoed in the reply's ``model``, so clients with a hard-coded model name still
work. ``stream_options.include_usage`` adds OpenAI's last chunk with ``usage``. Fields citeqa
has no use for (temperature, max_tokens, tools, ...) are ignored.

Errors are OpenAI error objects, ``{"error": {"message", "type", "param", "code"}}``: 400
(``invalid_request_error``) for a body that is not JSON or not a chat request, over 50
messages, no user message, or a last user message that is blank or over 1000 characters;
413 (code ``context_length_exceeded``) for a conversation over 65,536 characters of text;
404 (code ``model_not_found``) for a model id other than ``citeqa`` in GET /v1/models/{id};
503 (``server_error``) while no index is loaded. The app's other errors on these paths (413
for a body over CITEQA_MAX_BODY_BYTES, 405 for a wrong method, 500) take the same shape.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from service.api import examples
from service.api.deps import JsonBody, MetricsDep, StateDep, run_with_deadline
from service.api.openapi import json_body
from service.chat.completions import (
    count_usage,
    make_chunks,
    make_completion,
    server_sent_events,
)
from service.chat.conversation import (
    MAX_CHAT_BODY_BYTES,
    MAX_CONVERSATION_CHARS,
    ChatQuery,
    build_chat_query,
    check_conversation_size,
)
from service.chat.errors import ConversationTooLargeError, ModelNotFoundError, invalid_request
from service.chat.schemas import (
    MODEL_ID,
    ChatCitations,
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    OpenAIErrorResponse,
)
from service.metrics import ServiceMetrics
from service.render import render_response
from service.state import ServiceState

router = APIRouter(prefix="/v1", tags=["chat"])

# OpenAI reports when a model was created; citeqa's is "when this server started".
_STARTED = int(time.time())
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OpenAIErrorResponse, "description": "Not a chat request citeqa can answer"},
    413: {"model": OpenAIErrorResponse, "description": "Conversation or body over the size cap"},
    401: {"model": OpenAIErrorResponse, "description": "CITEQA_READ_KEY is set: send it"},
    415: {"model": OpenAIErrorResponse, "description": "The body is not declared as JSON"},
    429: {"model": OpenAIErrorResponse, "description": "Over the client's rate limit"},
    503: {"model": OpenAIErrorResponse, "description": "No index is loaded yet"},
    504: {"model": OpenAIErrorResponse, "description": "The answer took too long"},
}


def _prepare(raw: bytes) -> tuple[ChatCompletionRequest, ChatQuery]:
    """Parse and check a chat request; in a worker thread, as a big body takes a while.

    Raises:
        ChatRequestError: the body is not JSON or not a chat request, the conversation is
            too big, or it has no question to answer.
    """
    if len(raw) > MAX_CHAT_BODY_BYTES:
        raise ConversationTooLargeError(
            f"the request body is {len(raw)} bytes; a chat request is limited to "
            f"{MAX_CHAT_BODY_BYTES} ({MAX_CONVERSATION_CHARS} characters of text): send only "
            "the recent turns",
            param=None,
        )
    try:
        body = ChatCompletionRequest.model_validate_json(raw)
    except ValidationError as error:
        raise invalid_request(error.errors(include_url=False)) from error
    check_conversation_size([message.text() for message in body.messages])
    return body, build_chat_query(body.user_messages())


async def _answer(
    state: ServiceState, metrics: ServiceMetrics, query: ChatQuery
) -> tuple[str, ChatCitations]:
    """The reply text and its citations, in a worker thread, within CITEQA_QUERY_TIMEOUT_S."""

    def answer() -> tuple[str, ChatCitations]:
        with state.serving() as engine:  # one index generation for the answer and its sources
            result = engine.answer(
                query.question,
                retrieval_query=query.retrieval_query,
                reading_question=query.reading_question,
            )
            metrics.record_query(result)
            documents = engine.index.documents
            content = render_response(result, documents, markdown=True)
            return content, ChatCitations.of_result(result, documents, query.retrieval_query)

    return await run_with_deadline(answer, state.settings.query_timeout_s)


@router.get(
    "/models",
    response_model=ModelList,
    summary="List models (OpenAI-compatible)",
    responses=examples.ok(examples.MODEL_LIST),
)
def list_models() -> ModelList:
    """The one model this server offers, ``citeqa``, in OpenAI's list shape."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=_STARTED, owned_by="citeqa")])


@router.get(
    "/models/{model_id}",
    response_model=ModelCard,
    summary="Describe a model (OpenAI-compatible)",
    responses={
        **examples.ok(examples.MODEL_CARD),
        404: {"model": OpenAIErrorResponse, "description": "No model with this id"},
        422: {"model": OpenAIErrorResponse, "description": "The request breaks the schema"},
    },
)
def get_model(model_id: str) -> Response:
    """The model ``citeqa``; any other id is 404, as OpenAI answers an unknown model."""
    if model_id != MODEL_ID:
        raise ModelNotFoundError(
            f"The model '{model_id}' does not exist; this server offers '{MODEL_ID}' "
            "(GET /v1/models)"
        )
    card = ModelCard(id=MODEL_ID, created=_STARTED, owned_by="citeqa")
    return JSONResponse(card.model_dump())


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Chat completion with citations (OpenAI-compatible)",
    responses={
        **_ERRORS,
        200: {
            "content": {
                "application/json": {"example": examples.CHAT_COMPLETION},
                "text/event-stream": {},
            }
        },
    },
    dependencies=[JsonBody],
    openapi_extra=json_body(ChatCompletionRequest, example=examples.CHAT_REQUEST),
)
async def chat_completions(request: Request, state: StateDep, metrics: MetricsDep) -> Response:
    """Answer the last user message; earlier user messages resolve follow-ups.

    The body is an OpenAI chat request: ``messages`` (``content`` a string or a list of
    parts, of which ``{"type": "text", "text": ...}`` parts are read) and ``stream``. The
    latest user message is the question and decides the answer type; retrieval uses it plus
    the content words of the two user messages before it ("and in February?" retrieves with
    "people Mexico extradited" from "How many people has Mexico extradited?").

    The reply's content is plain text (Markdown-friendly): the answer with a numbered
    reference, the quoted sentence, other figures when sources disagree, and the numbered
    sources "[1] Title — Publisher, date (doc_id)"; or "The indexed articles do not answer
    this question." with the closest passages. Next to ``choices``, a top-level
    ``citations`` object holds the same structured answer as /v1/query (``question``,
    ``question_type``, ``answer``, ``alternatives``, ``sources_disagree``, ``passages``,
    ``timings_ms``, every citation with ``doc_id`` and character offsets into the document
    text) and the ``retrieval_query`` used. ``usage`` counts words, not tokens.

    With ``"stream": true`` the reply is ``text/event-stream``: a chunk with the assistant
    role, the content in pieces, a final chunk with an empty delta,
    ``finish_reason: "stop"`` and ``citations``, with ``"stream_options": {"include_usage":
    true}`` one more chunk with no choices and the ``usage``, then ``data: [DONE]``.
    The reply's ``model`` is the one the request named.
    """
    # The body is parsed here, not by FastAPI, so a bad one is a 400 with OpenAI's codes
    # (invalid_json, invalid_value, ...); service/api/errors.py answers every error on these
    # routes in OpenAI's shape.
    # Parsing and the follow-up terms run in the thread pool: up to CITEQA_MAX_BODY_BYTES
    # of JSON on the event loop would stall every other request meanwhile.
    body, query = await run_in_threadpool(_prepare, await request.body())
    content, citations = await _answer(state, metrics, query)
    usage = count_usage("\n".join(body.user_messages()), content)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        chunks = make_chunks(content, citations, body.model, usage if include_usage else None)
        return StreamingResponse(
            server_sent_events(chunks),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    completion = make_completion(content, citations, usage, body.model)
    return JSONResponse(completion.model_dump(mode="json"))
