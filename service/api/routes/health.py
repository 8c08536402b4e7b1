"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api import examples
from service.api.deps import StateDep
from service.schemas import Readiness

router = APIRouter(tags=["health"])


# Two routes, not one with two methods: each operation needs its own OpenAPI id.
@router.get("/healthz", summary="Liveness", responses=examples.ok(examples.HEALTH))
@router.head("/healthz", summary="Liveness (no body)")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: models and an index loaded, and warm",
    responses=examples.ok(examples.READINESS)
    | {503: {"model": Readiness, "description": "No index loaded, or not warm yet"}},
)
def readyz(request: Request, state: StateDep) -> JSONResponse:
    """Models and an index are loaded and warm; 503 (with the same body) until they are.

    Warm: one query has run through the whole path (embed, retrieve, read, aggregate), so
    the first user query after ready costs what the steady ones do. With CITEQA_READ_KEY
    set, a caller without a key sees folder names, not absolute paths (they tell an attacker
    how the server is laid out).
    """
    state.follow_current()
    engine = state.engine
    ready = state.ready
    full_paths = getattr(request.state, "read_access", True)

    def shown(path: Path) -> str:
        return str(path) if full_paths else path.name

    body = Readiness(
        ready=ready,
        embedding_model=state.embedder.name,
        # Which component picks answers: the span reader's folder, or the fallback.
        reader_model=shown(state.reader.model_dir) if state.reader else "none (model-free)",
        index_dir=shown(state.settings.index_dir),
        generation=engine.index.manifest.generation if engine else None,
        documents=len(engine.index.documents) if engine else 0,
        chunks=engine.index.manifest.chunks if engine else 0,
        page_cache=state.page_cache_state,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
