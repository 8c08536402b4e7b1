"""Log set-up for people and machines, one format for structlog and stdlib loggers alike.

``text`` is key=value lines, coloured only when the stream is a terminal (a log file or a
pipe gets no escape codes). ``json`` (``CITEQA_LOG_FORMAT=json``) is one JSON object per
line. Both carry the request id on every line logged while a request runs: the middleware
binds it in a context variable, and lines from the standard ``logging`` module (citeqa's
``logging.getLogger`` users, uvicorn) go through the same processors as structlog's.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["text", "json"]


class _CiteqaHandler(logging.StreamHandler[TextIO]):
    """The root handler this module installs; replaced, never stacked, by a second call.

    Without a stream of its own it writes to whatever ``sys.stdout`` is at each line, as
    structlog's print logger does (pytest, for one, swaps it per test).
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stdout)
        self.follow_stdout = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line."""
        if self.follow_stdout:
            self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str, log_format: LogFormat, stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging to ``stream`` (default: stdout) in ``log_format``."""
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=_is_terminal(stream or sys.stdout))
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(stream),  # None: sys.stdout
        cache_logger_on_first_use=False,
    )
    handler = _CiteqaHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CiteqaHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
