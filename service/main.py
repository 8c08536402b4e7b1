"""The FastAPI application: `create_app(settings)` wires routes, middleware and start-up."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from citeqa import __version__
from citeqa.config import Settings, get_settings
from indexer.manifest import Manifest
from service.api.docs import install_docs
from service.api.errors import install_error_handlers
from service.api.openapi import install_openapi
from service.api.routes import chat, documents, health, pages, query
from service.api.routes.pages import STATIC_DIR
from service.chat.schemas import ChatCompletionRequest
from service.metrics import ServiceMetrics
from service.middleware import (
    AccessMiddleware,
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
    configure_logging,
)
from service.schemas import DocumentCreate

if TYPE_CHECKING:
    from service.state import ServiceState

DESCRIPTION = (
    "Extractive question answering over news articles. Every answer is a span quoted from "
    "an indexed article, with its document id and character offsets into the original text. "
    "Reads need no key unless the server sets CITEQA_READ_KEY (then send it, or the write "
    "key, as a bearer token); writes (POST and DELETE /v1/documents) need the server's "
    "CITEQA_API_KEY as a bearer token: press *Authorize* to send it from this page."
)


def create_app(settings: Settings | None = None, state: ServiceState | None = None) -> FastAPI:
    """Build the app; models and the index load once, in the lifespan, and are shared.

    ``state`` lets an embedding program (or the tests) share models it already loaded.
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.resolved_log_format())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        from service.state import load_state

        # Sync routes (queries among them) run on this pool; see Settings.request_threads.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        app.state.citeqa = state or load_state(settings)
        # What start-up made (models' and the index's Python objects) lives as long as the
        # process: moved out of the collector's sight, a full collection no longer walks
        # them in the middle of a query (eval/RESULTS.md, issue 27).
        gc.collect()
        gc.freeze()
        yield

    # docs_url/redoc_url None: FastAPI's own pages load from a CDN; install_docs serves
    # the same pages from installed files.
    app = FastAPI(
        title="citeqa",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    for router in (health.router, query.router, documents.router, chat.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_docs(app)
    install_error_handlers(app)
    install_openapi(app, body_models=[ChatCompletionRequest, DocumentCreate])
    install_middleware(app, settings)
    install_metrics(app)
    return app


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """CORS (when origins are set), the body limits, access control and request ids."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        route_limits={"/v1/query": (settings.max_query_body_bytes, "CITEQA_MAX_QUERY_BODY_BYTES")},
    )
    # Outside the body limit, so a refused client's body is never read.
    app.add_middleware(AccessMiddleware, settings=settings)
    app.add_middleware(RequestIdMiddleware)


def install_metrics(app: FastAPI) -> None:
    """The service's Prometheus metrics and the instrumentator's, at ``/metrics``."""
    from prometheus_fastapi_instrumentator import Instrumentator

    app.state.metrics = ServiceMetrics(lambda: served_manifest(app))
    Instrumentator(registry=app.state.metrics.registry).instrument(app).expose(
        app, include_in_schema=False
    )


def served_manifest(app: FastAPI) -> Manifest | None:
    """The manifest of the generation ``app`` serves; None before start-up or an index."""
    state: ServiceState | None = getattr(app.state, "citeqa", None)
    engine = state.engine if state is not None else None
    return engine.index.manifest if engine is not None else None
