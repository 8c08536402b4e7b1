"""The `citeqa` command: serve, ask and evaluate here; `citeqa index`, `citeqa reader` and
`citeqa cache` in index_cli.py, reader_cli.py and cache_cli.py."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from citeqa.cache_cli import cache_app
from citeqa.cli_errors import ErrorReportingGroup
from citeqa.config import get_settings
from citeqa.index_cli import IndexDirOption, index_app, settings_for
from citeqa.reader_cli import reader_app

# Errors are reported in one place, ErrorReportingGroup: a CiteqaError ends a command with
# its message and exit code 1, so the commands below catch nothing.
app = typer.Typer(
    help="Extractive, cited question answering over news articles.", cls=ErrorReportingGroup
)
app.add_typer(index_app, name="index")
app.add_typer(reader_app, name="reader")
app.add_typer(cache_app, name="cache")


@app.command("serve")
def serve(
    index_dir: IndexDirOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (CITEQA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CITEQA_PORT).")] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="local (one process) | ray (Ray Serve, a deployment per shard)."
        ),
    ] = "local",
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards", min=1, help="--engine ray: the index's shard count (default: read it)."
        ),
    ] = None,
) -> None:
    """Serve the REST API, the OpenAI-compatible endpoint and the chat page."""
    settings = settings_for(index_dir)
    if engine not in ("local", "ray"):
        raise typer.BadParameter("--engine must be local or ray")
    if engine == "ray":
        from service.distributed.app import serve_on_ray

        serve_on_ray(settings, shards, host or settings.host, port or settings.port)
        return
    import uvicorn

    from service.http_server import check_address, server_options, worker_server_options
    from service.main import create_app

    # The address decides the default rate limits (off on loopback): the app must see the
    # one it is served on.
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )
    check_address(settings.host, settings.port)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # the app logs each request itself, with its request id
        # uvicorn's own config would give its lines their own format (and colours); without
        # it they reach the app's handler: one format, CITEQA_LOG_FORMAT, for every line.
        "log_config": None,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options, **server_options(settings))
        return
    # Each worker process builds its app from the environment: pass the index and the
    # address on in it.
    os.environ["CITEQA_INDEX_DIR"] = str(settings.index_dir)
    os.environ["CITEQA_HOST"] = settings.host
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        workers=settings.workers,
        **options,
        **worker_server_options(settings),
    )


@app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    index_dir: IndexDirOption = None,
    top_k: Annotated[
        int, typer.Option(min=1, max=50, help="Passages to list under the answer (1-50).")
    ] = 5,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print POST /v1/query's JSON response (for scripts).")
    ] = False,
) -> None:
    """Answer one question from the index and print the answer with its citations."""
    from service.render import render_response
    from service.schemas import QueryResponse
    from service.state import load_engine

    engine = load_engine(settings_for(index_dir))
    response = engine.answer(question, top_k=top_k)
    if as_json:  # the same document the REST API returns, field for field
        body = QueryResponse.of(response, engine.index.documents)
        sys.stdout.write(body.model_dump_json(indent=2) + "\n")
        return
    Console().print(render_response(response, engine.index.documents))


@app.command("eval")
def evaluate(
    dataset: Annotated[
        Path, typer.Option("--dataset", help="Gold JSONL, SQuAD JSON, BEIR dir or RGB JSONL.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md, ...")],
    dataset_format: Annotated[
        str | None, typer.Option("--format", help="gold | squad | beir | rgb (default: detect)")
    ] = None,
    configurations: Annotated[
        str | None, typer.Option("--configs", help="Comma-separated ablations (default: all).")
    ] = None,
    against: Annotated[
        str | None, typer.Option("--against", help="URL of a running citeqa service.")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Corpus folder for a gold JSONL.")
    ] = Path("seeds"),
    limit: Annotated[int | None, typer.Option("--limit", help="Ask only the first N.")] = None,
    remove_articles: Annotated[
        float,
        typer.Option(
            "--remove-articles",
            help="Leave this fraction of the articles out of the corpus (e.g. 0.2): their "
            "questions become unanswerable, which tests abstention.",
        ),
    ] = 0.0,
    seed: Annotated[
        int, typer.Option("--seed", help="Which articles --remove-articles draws.")
    ] = 0,
) -> None:
    """Score retrieval and answers against gold questions; writes a report to OUT."""
    _require_eval_packages()
    from eval.harness import run_evaluation

    run_evaluation(
        dataset,
        out,
        get_settings(),
        dataset_format=dataset_format,
        configurations=configurations.split(",") if configurations else None,
        against=against,
        corpus=corpus,
        limit=limit,
        remove_fraction=remove_articles,
        seed=seed,
    )


def _require_eval_packages() -> None:
    # The Docker image serves and leaves these out (their size: eval/RESULTS.md): say so
    # instead of a ModuleNotFoundError traceback.
    from eval.errors import EvalError

    for name in ("ranx", "matplotlib"):
        if importlib.util.find_spec(name) is None:
            raise EvalError(
                f"citeqa eval needs the package {name!r}, which this install leaves out (the "
                "Docker image does): `pip install ranx matplotlib`, or build the image with "
                "`--build-arg LEAVE_OUT=`"
            )


def main() -> None:
    """Run the ``citeqa`` command line."""
    app()


if __name__ == "__main__":
    main()
