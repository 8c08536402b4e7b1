"""Throughput and latency over HTTP by number of clients, with real questions.

    python -m eval.bench.load --index-dir DIR --questions FILE --clients 1,2,4,8 --seconds 60
        [--url URL [--server-pid PID]] [--first 20] [--warm-up-seconds 2]
        [--env CITEQA_READER_THREADS=1 ...] [--json]
    python -m eval.bench.load --index-dir DIR --questions FILE --clients 1,4,8 --seconds 10
        --compare base: --compare workers2:CITEQA_WORKERS=2 [--rounds 2]

Starts `citeqa serve` over ``--index-dir`` (or loads a running one at ``--url``), then:

1. **First queries after ready**: the ``--first`` questions asked one at a time the moment
   /readyz says 200, before anything else, to see whether ready means warm.
2. **Levels**: for each client count, that many clients ask back to back for
   ``--warm-up-seconds`` (not counted), then ``--seconds`` (counted). Per level: queries/s,
   p50/p95/p99, errors (a non-200 or a failed connection), the server's CPU use and this
   process's (the clients', in cores), and the 1-minute load average.

``--compare NAME:CITEQA_A=1,CITEQA_B=2`` (repeated; ``NAME:`` for the defaults) runs a fresh
server per configuration, the configurations alternated ``--rounds`` times, so that a
shared machine's load falls on each alike; each run prints its own table.

Questions come from any dataset ``citeqa eval`` reads (SQuAD JSON, gold JSONL, ...),
spread over the whole file and asked in turn. With ``--json`` the last line of output is
one JSON object. On a shared machine the figures are provisional: read them beside the
load average.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval.bench.http_load import Latencies, LevelResult, Server, ask_in_turn, run_level, served

QUESTIONS_KEPT = 1000


def load_questions(path: Path, limit: int = QUESTIONS_KEPT) -> list[str]:
    """Up to ``limit`` questions spread over the dataset at ``path``."""
    from eval.datasets import load_dataset

    questions = [q.question for q in load_dataset(path).questions]
    if not questions:
        raise ValueError(f"{path} holds no questions; give a dataset with questions")
    step = max(len(questions) // limit, 1)
    return questions[::step][:limit]


def run_load(
    server: Server | tuple[str, int | None],
    questions: list[str],
    levels: list[int],
    seconds: float,
    warm_up_seconds: float = 2.0,
    first: int = 20,
) -> dict[str, Any]:
    """The first queries after ready, then each load level, against ``server``."""
    url, pid = (server.url, server.pid) if isinstance(server, Server) else server
    load_before = os.getloadavg()
    first_times = ask_in_turn(url, questions, first) if first else []
    results: list[LevelResult] = []
    for clients in levels:
        if warm_up_seconds > 0:
            run_level(url, questions, clients, warm_up_seconds)
        results.append(run_level(url, questions, clients, seconds, pid))
    steady = next((r for r in results if r.clients == 1), None)
    first_figures = Latencies.of(first_times)
    return {
        "url": url,
        "questions": len(questions),
        "ready_s": server.ready_s if isinstance(server, Server) else None,
        "first": {
            **asdict(first_figures),
            "times_ms": first_times,
            # The target: the first queries' p99 at most twice the steady one-client p50.
            "p99_over_steady_p50": first_figures.p99_ms / steady.p50_ms if steady else None,
        },
        "levels": [result.as_dict() for result in results],
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
    }


def print_table(result: dict[str, Any], title: str) -> None:
    """The levels as a table, the first queries and the load average under it."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    columns = ["clients", "q/s", "p50 ms", "p95 ms", "p99 ms", "errors", "server CPU"]
    columns += ["CPU ms/query", "client CPU"]
    for column in (*columns, "load 1m"):
        table.add_column(column, justify="right")
    for level in result["levels"]:
        cpu, per_query = level["server_cpu_cores"], level["server_cpu_ms_per_query"]
        table.add_row(
            str(level["clients"]),
            f"{level['queries_per_s']:.1f}",
            f"{level['p50_ms']:.1f}",
            f"{level['p95_ms']:.1f}",
            f"{level['p99_ms']:.1f}",
            str(level["errors"]),
            "-" if cpu is None else f"{cpu:.2f}",
            "-" if per_query is None else f"{per_query:.1f}",
            f"{level['client_cpu_cores']:.2f}",
            f"{level['load_1m']:.2f}",
        )
    console = Console(width=120)
    console.print(table)
    first = result["first"]
    if first["count"]:
        ratio = first["p99_over_steady_p50"]
        console.print(
            f"first {first['count']} queries after ready: p50 {first['p50_ms']:.1f} ms, "
            f"p99 {first['p99_ms']:.1f} ms, max {first['max_ms']:.1f} ms"
            + (f" ({ratio:.2f}x the steady one-client p50)" if ratio else "")
        )
    loads = [" ".join(f"{v:.2f}" for v in result[key]) for key in ("load_before", "load_after")]
    console.print(f"load average before: {loads[0]}; after: {loads[1]}")


def _environment(pairs: list[str]) -> dict[str, str]:
    environment = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.startswith("CITEQA_"):
            raise ValueError(f"--env {pair!r}: give CITEQA_NAME=value")
        environment[name] = value
    return environment


def _comparison(specs: list[str]) -> dict[str, dict[str, str]]:
    configurations = {}
    for spec in specs:
        name, colon, settings = spec.partition(":")
        if not colon or not name:
            raise ValueError(f"--compare {spec!r}: give NAME:CITEQA_A=1,CITEQA_B=2 or NAME:")
        configurations[name] = _environment([pair for pair in settings.split(",") if pair])
    return configurations


def compare(
    index_dir: Path,
    configurations: dict[str, dict[str, str]],
    rounds: int,
    run: Callable[[Server], dict[str, Any]],
) -> list[dict[str, Any]]:
    """``run`` against a fresh server of each configuration, alternated ``rounds`` times."""
    results = []
    for number in range(1, rounds + 1):
        for name, environment in configurations.items():
            with served(index_dir, environment) as server:
                result = run(server)
            result.update(configuration=name, round=number, server_env=environment)
            print_table(result, f"{name}, round {number}: {index_dir}")
            results.append(result)
    return results


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--index-dir", type=Path, help="Start `citeqa serve` over this index.")
    target.add_argument("--url", help="Load a running server instead (http://host:port).")
    parser.add_argument("--server-pid", type=int, help="With --url: its process, for CPU use.")
    parser.add_argument("--questions", type=Path, required=True, help="A dataset file.")
    parser.add_argument("--clients", default="1,2,4,8", help="Client counts, comma-separated.")
    parser.add_argument("--seconds", type=float, default=60.0, help="Counted time per level.")
    parser.add_argument("--warm-up-seconds", type=float, default=2.0)
    parser.add_argument("--first", type=int, default=20, help="Queries timed right at ready.")
    parser.add_argument(
        "--env", action="append", default=[], help="CITEQA_NAME=value for the server started."
    )
    parser.add_argument(
        "--compare", action="append", default=[], help="NAME:CITEQA_A=1,... (repeat it)."
    )
    parser.add_argument("--rounds", type=int, default=1, help="With --compare: alternations.")
    parser.add_argument("--json", action="store_true", help="Last line: the figures as JSON.")
    options = parser.parse_args(argv)
    try:
        options.levels = [int(count) for count in options.clients.split(",")]
        options.environment = _environment(options.env)
        options.configurations = _comparison(options.compare)
    except ValueError as error:
        parser.error(str(error))
    if options.configurations and (options.url or options.env):
        parser.error("--compare starts its own servers: give --index-dir, not --url or --env")
    if not 1 <= options.rounds <= 20:
        parser.error("--rounds must be 1 to 20")
    if not options.levels or min(options.levels) < 1 or options.seconds <= 0:
        parser.error("--clients must be counts of at least 1, --seconds above 0")
    if not 0 < options.seconds <= 600 or options.first < 0:
        parser.error("--seconds must be in (0, 600] and --first at least 0")
    return options


def main(argv: list[str] | None = None) -> None:
    """Run the load benchmark and print its table (and JSON)."""
    options = _parse(argv)
    questions = load_questions(options.questions)
    args = (questions, options.levels, options.seconds, options.warm_up_seconds, options.first)
    if options.configurations:
        runs = compare(
            options.index_dir,
            options.configurations,
            options.rounds,
            lambda server: run_load(server, *args),
        )
        if options.json:
            print(json.dumps({"runs": runs}))
        return
    if options.url:
        result = run_load((options.url, options.server_pid), *args)
        where = options.url
    else:
        with served(options.index_dir, options.environment) as server:
            result = run_load(server, *args)
        where = str(options.index_dir)
    result["server_env"] = options.environment
    print_table(result, f"/v1/query over HTTP: {where}, {len(questions)} questions")
    if options.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
