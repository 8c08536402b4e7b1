"""The FastAPI application: `create_app(settings)` wires routes, middleware and start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from citeqa import __version__
from citeqa.config import Settings, get_settings
from service.api.access import AccessMiddleware
from service.api.errors import install_error_handlers
from service.api.openapi import install_openapi
from service.api.routes import chat, documents, health, pages, query
from service.api.routes.pages import STATIC_DIR
from service.chat.schemas import ChatCompletionRequest
from service.logging import configure_logging
from service.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from service.schemas import DocumentCreate

if TYPE_CHECKING:
    from service.state import ServiceState


def create_app(settings: Settings | None = None, state: ServiceState | None = None) -> FastAPI:
    """Build the app; models and the index load once, in the lifespan, and are shared.

    ``state`` lets an embedding program (or the tests) share models it already loaded.
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from service.state import load_state

        app.state.citeqa = state or load_state(settings)
        yield

    app = FastAPI(title="citeqa", version=__version__, lifespan=lifespan)
    for router in (health.router, query.router, documents.router, chat.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    install_openapi(app, body_models=[ChatCompletionRequest, DocumentCreate])
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
    from prometheus_fastapi_instrumentator import Instrumentator

    Instrumentator().instrument(app).expose(app, include_in_schema=False)
    return app
