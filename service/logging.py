"""structlog set-up: key=value lines for people, JSON lines when CITEQA_LOG_JSON is set."""

from __future__ import annotations

import logging

import structlog


def configure_logging(level: str, as_json: bool) -> None:
    """Configure structlog: JSON lines or a console renderer, at ``level``."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
    )
