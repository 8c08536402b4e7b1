"""Log lines: no colour codes off a terminal, and JSON lines that all carry the request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citeqa.config import Settings
from service.middleware import RequestIdMiddleware, configure_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    configure_logging("info", "text")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/work")
    def work() -> dict[str, str]:
        # One line from each kind of logger a request can reach: structlog and stdlib.
        structlog.get_logger("citeqa.test").info("structlog line", step=1)
        logging.getLogger("citeqa.test").warning("stdlib line %d", 2)
        return {"ok": "yes"}

    app.add_middleware(RequestIdMiddleware)
    return app


def test_text_off_a_terminal_has_no_colour_codes() -> None:
    stream = io.StringIO()
    configure_logging("info", "text", stream=stream)
    with TestClient(_app()) as client:
        client.get("/work", headers={"X-Request-ID": "req-1"})
    output = stream.getvalue()
    assert "structlog line" in output and "stdlib line 2" in output
    assert "\x1b[" not in output
    assert output.count("request_id=req-1") == 3  # two lines in the route, the access line


def test_text_on_a_terminal_is_coloured() -> None:
    # The same call on a terminal colours: the test above would pass for a renderer that
    # never colours, and this one would not.
    stream = FakeTerminal()
    configure_logging("info", "text", stream=stream)
    structlog.get_logger("citeqa.test").info("hello")
    assert "\x1b[" in stream.getvalue()


def test_json_lines_all_carry_the_request_id() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    with TestClient(_app()) as client:
        client.get("/work", headers={"X-Request-ID": "req-2"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    # The test client logs its own request through httpx, outside the server's request.
    lines = [line for line in lines if not line.get("logger", "").startswith("httpx")]
    assert {line["event"] for line in lines} >= {"structlog line", "stdlib line 2", "request"}
    assert all(line["request_id"] == "req-2" for line in lines), lines
    assert all("level" in line and "timestamp" in line for line in lines)


def test_configuring_twice_does_not_duplicate_lines() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    configure_logging("info", "json", stream=stream)
    logging.getLogger("citeqa.test").warning("once")
    assert stream.getvalue().count('"once"') == 1


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "text"),
        ({"CITEQA_LOG_FORMAT": "json"}, "json"),
        ({"CITEQA_LOG_JSON": "true"}, "json"),  # the older switch keeps working
        ({"CITEQA_LOG_JSON": "true", "CITEQA_LOG_FORMAT": "text"}, "text"),
    ],
)
def test_log_format_setting(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    for name in ("CITEQA_LOG_FORMAT", "CITEQA_LOG_JSON"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).resolved_log_format() == expected  # type: ignore[call-arg]
