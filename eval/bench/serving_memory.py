"""Served RAM per real paragraph: build indexes of N real paragraphs, serve each, read RSS.

    python -m eval.bench.serving_memory --paragraphs 1000,6000 [--json] [--source FILE ...]
                                        [--code DIR] [--work DIR] [--repeat 1] [--queries 50]

1. **Paragraphs**: the first N distinct contexts of SQuAD-format files (by default the
   SQuADShifts new-wiki, reddit and amazon training sets in ``../shared/training``, then NYT
   dev: 6,705 in all), each written as a ``.txt`` article by ``index_throughput._squad_folder``.
   The files are read at run time; nothing is copied into the repository.
2. **Build**, one child process per N: ``make_writer(settings, dir).build([folder])``, the
   real writer with spaCy and the embedder, as ``citeqa index build`` runs it.
3. **Serve**, in a fresh child: ``service.state.load_state`` as ``citeqa serve`` runs it, then
   ``--queries`` questions through ``engine.answer`` and ``QueryResponse.of`` (the /v1/query
   route without HTTP), so the caches and mapped pages the query path touches are warm; then
   the child's VmRSS, RssAnon and RssFile, and the resident pages mapped from the index folder.
4. The same child over a tiny index (``--baseline`` paragraphs) is the models plus the code.
   Served RAM per paragraph is (RSS(N) - RSS(baseline)) / (N - baseline), in KiB.

Every run asks the same questions (spread over the paragraphs of the smallest build), so the
models do the same work and only the index differs. The children run the code under ``--code``
(default: this checkout) on their PYTHONPATH, with this file run by path: they import only what
the segment layout and the layout before it both have (``make_writer``, ``load_state``,
``QueryEngine.answer``, ``QueryResponse.of``), so ``--code ../wt-old`` measures an older
checkout the same way. ``--work DIR`` keeps the indexes and reuses them on the next run.
MB are 2**20 bytes. The load average is printed beside the figures: on a shared machine they
are provisional. With ``--json`` the last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
DEFAULT_SOURCES = (
    SHARED / "training" / "squadshifts-new-wiki" / "train.json",
    SHARED / "training" / "squadshifts-reddit" / "train.json",
    SHARED / "training" / "squadshifts-amazon" / "train.json",
    SHARED / "benchmarks" / "squadshifts-nyt" / "dev.json",
)
MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")


# -- the arithmetic -------------------------------------------------------------------------


def per_paragraph_kib(rss_mb: float, baseline_mb: float, paragraphs: int, baseline: int) -> float:
    """KiB of RAM each paragraph adds over the baseline: (RSS(N) - RSS(b)) / (N - b).

    Example:
        >>> per_paragraph_kib(1100.0, 700.0, 10_005, 5)
        40.96
    """
    if paragraphs <= baseline:
        raise ValueError(f"{paragraphs} paragraphs is not above the baseline's {baseline}")
    return (rss_mb - baseline_mb) * 1024 / (paragraphs - baseline)


def spread(items: list[str], count: int) -> list[str]:
    """``count`` items taken evenly over ``items`` (cycled when there are fewer)."""
    if not items:
        raise ValueError("no items to choose from")
    if len(items) >= count:
        return [items[i * len(items) // count] for i in range(count)]
    return [items[i % len(items)] for i in range(count)]


# -- the paragraphs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    """One distinct paragraph, as the .txt article a build reads."""

    path: Path
    name: str  # the file name in a build folder (the document id's stem), unique across sources
    questions: tuple[str, ...]


def distinct_paragraphs(sources: list[Path], count: int, scratch: Path) -> list[Paragraph]:
    """The first ``count`` distinct paragraphs of ``sources``, in order, with their questions."""
    from eval.bench.index_throughput import _squad_folder
    from eval.datasets.squad import load_squad

    found: list[Paragraph] = []
    seen: set[str] = set()
    for number, source in enumerate(sources):
        asked: dict[str, list[str]] = {}
        for question in load_squad(source).questions:
            asked.setdefault(question.doc_ids[0], []).append(question.question)
        folder = _squad_folder(source, scratch / f"source-{number}")
        # In article, then paragraph order (reddit's one article has over 999 paragraphs).
        for path in sorted(folder.glob("*.txt"), key=lambda p: [int(n) for n in p.stem.split("-")]):
            text = path.read_text(encoding="utf-8")
            if text in seen:
                continue
            seen.add(text)
            # _squad_folder names a paragraph as load_squad names its document: AAAA-PPP.
            questions = tuple(asked.get(path.stem, ()))
            found.append(Paragraph(path, f"s{number}-{path.name}", questions))
            if len(found) == count:
                return found
    raise ValueError(
        f"the sources hold {len(found)} distinct paragraphs, fewer than {count}; "
        "add a --source or ask for fewer"
    )


def _paragraph_folder(paragraphs: list[Paragraph], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for paragraph in paragraphs:
        shutil.copyfile(paragraph.path, folder / paragraph.name)
    return folder


# -- the child processes (only APIs that both index layouts have) ---------------------------


def _memory_mb(index_dir: Path) -> dict[str, float]:
    """The fields of /proc/self/status in MB, and the pages mapped from the index folder:
    resident (``IndexMapped``) and in all (``IndexMappedSize``, what every query touching
    every row would leave resident)."""
    status = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        field, _, value = line.partition(":")
        if field in MEMORY_FIELDS:
            status[field] = int(value.split()[0]) / 1024
    kib = {"Rss:": 0, "Size:": 0}
    inside = False
    prefix = str(index_dir.resolve())
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if "-" in parts[0] and not parts[0].endswith(":"):  # a mapping's header line
            inside = len(parts) >= 6 and parts[5].startswith(prefix)
        elif inside and parts[0] in kib:
            kib[parts[0]] += int(parts[1])
    return {**status, "IndexMapped": kib["Rss:"] / 1024, "IndexMappedSize": kib["Size:"] / 1024}


def build_stage(folder: Path, index_dir: Path, result: Path) -> None:
    """Build an index of ``folder`` with the real writer; the figures go to ``result``."""
    from citeqa.config import get_settings
    from indexer.factory import make_writer

    started = time.perf_counter()
    report = make_writer(get_settings(), index_dir).build([folder])
    figures = {
        "documents": report.documents,
        "chunks": report.chunks,
        "skipped": len(report.skipped),
        "build_s": time.perf_counter() - started,
    }
    result.write_text(json.dumps(figures), encoding="utf-8")


def serve_stage(questions_file: Path, result: Path) -> None:
    """Load as ``citeqa serve`` does, answer the questions, read the memory figures."""
    from citeqa.config import get_settings
    from service.schemas import QueryResponse
    from service.state import load_state

    settings = get_settings()
    started = time.perf_counter()
    state = load_state(settings)
    ready_s = time.perf_counter() - started
    questions = json.loads(questions_file.read_text(encoding="utf-8"))
    started = time.perf_counter()
    for question in questions:
        with state.serving() as engine:
            QueryResponse.of(engine.answer(question), engine.index.documents)
    queries_s = time.perf_counter() - started
    gc.collect()  # what a server idles at between requests, not a query's garbage
    served = state.engine
    assert served is not None  # serving() above would have raised
    figures = {
        "documents": len(served.index.documents),
        "chunks": len(served.index.chunks),
        "ready_s": ready_s,
        "query_mean_ms": queries_s * 1000 / len(questions),
        "memory_mb": _memory_mb(settings.index_dir),
    }
    result.write_text(json.dumps(figures), encoding="utf-8")


# -- the parent -----------------------------------------------------------------------------


def _run_child(code: Path, env: dict[str, str], stage: str, **paths: Path) -> None:
    """Run ``stage`` in a child process, each of ``paths`` as an option (``index_dir=`` is
    ``--index-dir``)."""
    args = ["--stage", stage]
    for name, path in paths.items():
        args += [f"--{name.replace('_', '-')}", str(path)]
    # -P: the script's own folder stays off sys.path, so only ``code`` supplies packages.
    command = [sys.executable, "-P", str(Path(__file__).resolve()), *args]
    environment = {**os.environ, "PYTHONPATH": str(code), **env}
    # The children's output goes to stderr: with --json, stdout's last line stays the result.
    done = subprocess.run(command, cwd=code, env=environment, stdout=sys.stderr, check=False)
    if done.returncode:
        raise RuntimeError(f"the child {args[:2]} failed (exit {done.returncode}); see above")


def _read(path: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


def _build(options: argparse.Namespace, paragraphs: list[Paragraph], work: Path) -> Path:
    """The index of the first ``len(paragraphs)`` paragraphs, built once per work folder."""
    size = len(paragraphs)
    index_dir, result = work / f"index-{size}", work / f"build-{size}.json"
    if result.is_file() and _read(result).get("code") == str(options.code):
        return index_dir
    shutil.rmtree(index_dir, ignore_errors=True)
    folder = _paragraph_folder(paragraphs, work / f"paragraphs-{size}")
    env = {"CITEQA_MODEL_CACHE_DIR": str(options.model_cache)}
    _run_child(options.code, env, "build", folder=folder, index_dir=index_dir, result=result)
    result.write_text(json.dumps({**_read(result), "code": str(options.code)}), encoding="utf-8")
    return index_dir


def _serve(options: argparse.Namespace, index_dir: Path, work: Path) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    result = work / f"serve-{index_dir.name}.json"
    env = {"CITEQA_MODEL_CACHE_DIR": str(options.model_cache), "CITEQA_INDEX_DIR": str(index_dir)}
    _run_child(options.code, env, "serve", questions=work / "questions.json", result=result)
    return {**_read(result), "load": [load_before, os.getloadavg()[0]]}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median VmRSS (the first of the two middle ones when even)."""
    ordered = sorted(runs, key=lambda run: run["memory_mb"]["VmRSS"])
    return {
        **ordered[(len(ordered) - 1) // 2],
        "rss_runs_mb": [r["memory_mb"]["VmRSS"] for r in runs],
    }


def _per_paragraph(row: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    """KiB per served document of ``row`` over ``base``: RSS, its parts, and the ceiling
    (RSS with every page mapped from the index resident)."""

    def figures(memory: dict[str, float]) -> dict[str, float]:
        ceiling = memory["VmRSS"] - memory["IndexMapped"] + memory["IndexMappedSize"]
        return {**memory, "Ceiling": ceiling}

    mine, theirs = figures(row["memory_mb"]), figures(base["memory_mb"])
    return {
        field: per_paragraph_kib(mine[field], theirs[field], row["documents"], base["documents"])
        for field in ("VmRSS", "RssAnon", "RssFile", "IndexMapped", "Ceiling")
    }


def run(options: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build each size once, serve each ``--repeat`` times (sizes interleaved); the figures."""
    sizes = sorted({options.baseline, *options.paragraphs})
    paragraphs = distinct_paragraphs(options.source, sizes[-1], work / "sources")
    asked = [q for p in paragraphs[: sizes[1]] for q in p.questions]
    (work / "questions.json").write_text(json.dumps(spread(asked, options.queries)))
    indexes = {size: _build(options, paragraphs[:size], work) for size in sizes}
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    for _ in range(options.repeat):
        for size in sizes:
            runs[size].append(_serve(options, indexes[size], work))
    from eval.bench.scale import disk_by_kind

    rows = []
    for size in sizes:
        row = {"paragraphs": size, **_read(work / f"build-{size}.json"), **_median_run(runs[size])}
        row["disk_mb"] = disk_by_kind(indexes[size])
        rows.append(row)
    for at, row in enumerate(rows[1:], start=1):
        row["kib_per_paragraph"] = _per_paragraph(row, rows[0])
        if at > 1:  # the slope between two real builds: the baseline's noise cancels out
            row["kib_per_paragraph_from_previous"] = _per_paragraph(row, rows[at - 1])["VmRSS"]
    return {
        "code": str(options.code),
        "baseline": options.baseline,
        "repeat": options.repeat,
        "queries": options.queries,
        "sources": [str(s) for s in options.source],
        "rows": rows,
    }


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    title = (
        f"served RAM per paragraph ({result['code']}; median of {result['repeat']} serving "
        f"runs, {result['queries']} queries each)"
    )
    table = Table(title=title)
    for column in (
        "paragraphs",
        "served documents",
        "chunks",
        "disk MB",
        "RSS MB",
        "anon MB",
        "file MB",
        "index mapped MB resident / in all",
        "KiB per paragraph",
        "anon KiB/p",
        "file KiB/p",
        "ceiling KiB/p",
        "KiB/p from the size before",
        "RSS runs MB",
        "load avg (1 min) before/after",
    ):
        table.add_column(column, justify="right")
    for row in result["rows"]:
        memory, per = row["memory_mb"], row.get("kib_per_paragraph")
        slope = row.get("kib_per_paragraph_from_previous")
        table.add_row(
            f"{row['paragraphs']:,}",
            f"{row['documents']:,}",
            f"{row['chunks']:,}",
            f"{sum(row['disk_mb'].values()):.1f}",
            f"{memory['VmRSS']:.1f}",
            f"{memory['RssAnon']:.1f}",
            f"{memory['RssFile']:.1f}",
            f"{memory['IndexMapped']:.1f} / {memory['IndexMappedSize']:.1f}",
            f"{per['VmRSS']:.1f}" if per else "(baseline)",
            *(
                (f"{per['RssAnon']:.1f}", f"{per['RssFile']:.1f}", f"{per['Ceiling']:.1f}")
                if per
                else ("", "", "")
            ),
            f"{slope:.1f}" if slope is not None else "",
            " ".join(f"{v:.0f}" for v in row["rss_runs_mb"]),
            f"{row['load'][0]:.2f} / {row['load'][1]:.2f}",
        )
    Console(width=220).print(table)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--paragraphs", default="1000,6000", help="Sizes, comma-separated.")
    parser.add_argument("--source", type=Path, action="append", help="SQuAD JSON (repeatable).")
    parser.add_argument("--baseline", type=int, default=5, help="Paragraphs of the tiny index.")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="Serving runs per size.")
    parser.add_argument("--code", type=Path, default=REPO, help="The checkout the children run.")
    parser.add_argument("--work", type=Path, help="Keep indexes here and reuse them.")
    parser.add_argument("--json", action="store_true", help="Last line: the figures as JSON.")
    # The child processes: one stage each.
    parser.add_argument("--stage", choices=["build", "serve"], help=argparse.SUPPRESS)
    for hidden in ("--folder", "--index-dir", "--result", "--questions"):
        parser.add_argument(hidden, type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.stage:
        return options
    options.paragraphs = sorted({int(n) for n in options.paragraphs.split(",")})
    options.source = options.source or list(DEFAULT_SOURCES)
    options.code = options.code.resolve()
    if options.baseline < 1 or options.paragraphs[0] <= options.baseline:
        parser.error("--baseline must be at least 1 and below every --paragraphs size")
    if options.queries < 1 or options.repeat < 1:
        parser.error("--queries and --repeat must be at least 1")
    from citeqa.config import get_settings

    options.model_cache = get_settings().resolved_model_cache_dir().resolve()
    return options


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (or, with the hidden ``--stage``, one of its child processes)."""
    options = _parse(argv)
    if options.stage == "build":
        build_stage(options.folder, options.index_dir, options.result)
        return
    if options.stage == "serve":
        serve_stage(options.questions, options.result)
        return
    work = options.work or Path(tempfile.mkdtemp(prefix="citeqa-serving-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run(options, work.resolve())
    finally:
        if options.work is None:
            shutil.rmtree(work, ignore_errors=True)
    _print_table(result)
    if options.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
