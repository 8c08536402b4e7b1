"""POST /v1/query: a question in, the answer span with citations and ranked passages out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from service.api import examples
from service.api.deps import JsonBody, MetricsDep, StateDep, run_with_deadline
from service.api.responses import error_responses
from service.schemas import QueryRequest, QueryResponse

router = APIRouter(prefix="/v1", tags=["query"])


@router.post(
    "/query",
    response_model=QueryResponse,
    summary="Answer a question with cited spans",
    dependencies=[JsonBody],
    responses=examples.ok(examples.QUERY_RESPONSE)
    | error_responses(400, 401, 413, 415, 422, 429, 503, 504),
)
async def query(
    body: Annotated[
        QueryRequest,
        Body(openapi_examples=examples.request_example("A count", examples.QUERY_REQUEST)),
    ],
    state: StateDep,
    metrics: MetricsDep,
) -> QueryResponse:
    """Answer a question extractively from the indexed articles.

    When sources give different values (figures, dates, names), every value is returned in
    ``alternatives`` with its citation and ``sources_disagree`` is true. When nothing in the
    corpus answers, ``answer`` is null and the best passages are still listed. An answer
    that takes longer than CITEQA_QUERY_TIMEOUT_S is a 504.
    """
    filters = body.filters.to_filters() if body.filters else None

    # In the thread pool, so model calls never block the event loop; the generation stays
    # open until the answer is rendered, even past the deadline.
    def answer() -> QueryResponse:
        with state.serving() as engine:
            result = engine.answer(body.question, top_k=body.top_k, filters=filters)
            metrics.record_query(result)
            return QueryResponse.of(result, engine.index.documents)

    return await run_with_deadline(answer, state.settings.query_timeout_s)
