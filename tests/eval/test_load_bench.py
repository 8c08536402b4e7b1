"""The HTTP load benchmark: a tiny run against the seeds, and how it counts errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eval.bench import load
from eval.bench.http_load import Server, free_port, run_level

GOLD = Path(__file__).resolve().parents[2] / "eval" / "gold" / "seeds.jsonl"


@pytest.mark.slow
def test_a_tiny_run_over_the_seeds_answers_every_level(
    seed_index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load.main(
        [
            "--index-dir",
            str(seed_index_dir),
            "--questions",
            str(GOLD),
            "--clients",
            "1,2",
            "--seconds",
            "1",
            "--warm-up-seconds",
            "0",
            "--first",
            "3",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["questions"] == 101
    assert result["first"]["count"] == 3 and len(result["first"]["times_ms"]) == 3
    assert result["first"]["p99_over_steady_p50"] > 0
    assert [level["clients"] for level in result["levels"]] == [1, 2]
    for level in result["levels"]:
        assert level["errors"] == 0
        assert level["queries"] > 0 and level["queries_per_s"] > 0
        assert level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
        assert level["server_cpu_cores"] > 0  # the server's own process was measured
        assert level["server_cpu_ms_per_query"] > 0
        assert len(result["load_before"]) == 3


def test_a_server_that_does_not_answer_counts_as_errors() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_level(url, ["Who?"], clients=2, seconds=0.2)
    assert result.queries == 0
    assert result.errors > 0


@pytest.mark.parametrize("bad", ["READER_THREADS=1", "CITEQA_READER_THREADS"])
def test_server_settings_must_be_citeqa_variables(bad: str) -> None:
    with pytest.raises(SystemExit):
        load.main(["--url", "http://127.0.0.1:1", "--questions", str(GOLD), "--env", bad])


def test_a_comparison_alternates_fresh_servers_of_each_configuration(
    seed_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[dict[str, str]] = []

    @contextmanager
    def fake_served(_index_dir: Path, environment: dict[str, str]) -> Iterator[Server]:
        started.append(environment)
        yield Server(f"http://127.0.0.1:{len(started)}", 0, 0.0)

    monkeypatch.setattr(load, "served", fake_served)
    configurations = load._comparison(["base:", "two:CITEQA_WORKERS=2,CITEQA_READER_THREADS=1"])
    runs = load.compare(
        seed_index_dir, configurations, 2, lambda server: {"url": server.url, **_NO_FIGURES}
    )
    assert started == [{}, {"CITEQA_WORKERS": "2", "CITEQA_READER_THREADS": "1"}] * 2
    assert [(run["configuration"], run["round"]) for run in runs] == [
        ("base", 1),
        ("two", 1),
        ("base", 2),
        ("two", 2),
    ]
    assert len({run["url"] for run in runs}) == 4  # a fresh server each time


_NO_FIGURES = {
    "levels": [],
    "first": {"count": 0},
    "load_before": [0.0, 0.0, 0.0],
    "load_after": [0.0, 0.0, 0.0],
}


@pytest.mark.parametrize("spec", ["CITEQA_WORKERS=2", "two:WORKERS=2"])
def test_a_comparison_needs_named_citeqa_settings(spec: str) -> None:
    with pytest.raises(SystemExit):
        load.main(["--index-dir", "x", "--questions", str(GOLD), "--compare", spec])


def test_a_route_sends_the_peers_get_request() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from eval.bench.http_load import QueryClient
    from eval.bench.peer_load import txtai_search

    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(("GET", self.path))
            body = b'[{"id": "a", "score": 1.0}]'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            del args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = QueryClient(f"http://127.0.0.1:{server.server_address[1]}", txtai_search)
    try:
        _, ok = client.ask("how many people?")
    finally:
        client.close()
        server.shutdown()
    assert ok  # a 200 with a JSON list counts as an answer
    assert seen == [("GET", "/search?query=how%20many%20people%3F&limit=5")]
