"""POST /v1/query: a question in, the answer span with citations and ranked passages out."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import JsonBody, StateDep
from service.api.responses import error_responses
from service.deadline import run_with_deadline
from service.schemas import QueryRequest, QueryResponse

router = APIRouter(prefix="/v1", tags=["query"])


@router.post(
    "/query",
    response_model=QueryResponse,
    dependencies=[JsonBody],
    responses=error_responses(400, 401, 413, 415, 422, 429, 503, 504),
)
async def query(body: QueryRequest, state: StateDep) -> QueryResponse:
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
            return QueryResponse.of(result, engine.index.documents)

    return await run_with_deadline(answer, state.settings.query_timeout_s)
