"""citeqa against txtai and Haystack on one corpus: build time, memory, recall and latency.

    make bench-peers        # installs txtai and Haystack into .venv-peers first
    python -m eval.bench.peers --peers-python .venv-peers/bin/python [--rounds 3]

Every paragraph of SQuADShifts NYT dev is a document; questions are spread evenly over the
file and a question's gold document is its paragraph. Each system builds its hybrid index
(citeqa: its own build; txtai: dense + BM25 with FAISS; Haystack: in-memory BM25 and
embeddings joined by reciprocal rank fusion), all with the same packaged MiniLM, then serves
the questions from what it saved, each phase in its own subprocess so that the memory
figures are its own. Systems take turns in a rotating order, round after round.

R@1 and R@5 count distinct documents. citeqa's p50 and p99 are its retrieval alone (the
question's embedding, hybrid search, sentence re-scoring, de-duplication), the peers'
their search; citeqa's whole answer with the reader is printed after the table. The load
average is printed beside every figure: on a shared machine the times are provisional.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SYSTEMS = ("citeqa", "txtai", "haystack")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATASET = REPO.parent / "shared" / "benchmarks" / "squadshifts-nyt" / "dev.json"


def _write_inputs(dataset: Path, questions: int, work: Path) -> tuple[int, int]:
    from eval.datasets.squad import load_squad

    loaded = load_squad(dataset)
    step = len(loaded.questions) / questions
    picked = [loaded.questions[int(i * step)] for i in range(questions)]
    corpus = [[d.doc_id, d.text] for d in loaded.documents]
    (work / "corpus.json").write_text(json.dumps(corpus))
    (work / "questions.json").write_text(json.dumps([[q.question, q.doc_ids[0]] for q in picked]))
    return len(corpus), len(picked)


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _phase(python: str, system: str, phase: str, work: Path, model: str) -> dict[str, Any]:
    command = [
        python,
        "-m",
        "eval.bench.peer_systems",
        "--system",
        system,
        "--phase",
        phase,
        "--work",
        str(work),
        "--model",
        model,
        "--target",
        str(work / system / "index"),
    ]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    # Exports are made once, not once a round: the cache outlives the round's index.
    environment.setdefault("CITEQA_MODEL_CACHE_DIR", str(work / "model-cache"))
    done = subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{system} {phase} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_round(
    order: list[str], work: Path, model: str, peers_python: str, console: Console
) -> dict[str, dict[str, Any]]:
    """One round: each system builds, then serves the questions, each phase in its own process."""
    results = {}
    for system in order:
        python = sys.executable if system == "citeqa" else peers_python
        shutil.rmtree(work / system, ignore_errors=True)
        (work / system).mkdir()
        load_before = _load()
        built = _phase(python, system, "build", work, model)
        served = _phase(python, system, "serve", work, model)
        results[system] = {"build": built, "serve": served, "load": f"{load_before} / {_load()}"}
        console.print(
            f"  {system}: build {built['build_s']:.1f} s, p50 {served['p50_ms']:.1f} ms, "
            f"R@1 {served['recall@1']:.3f} (load {results[system]['load']})"
        )
    return results


def _table(rounds: list[dict[str, dict[str, Any]]], systems: list[str], title: str) -> Table:
    table = Table(title=title)
    for column in (
        "system",
        "build s (rounds)",
        "ratio to txtai",
        "peak build RSS",
        "serving RSS",
        "R@1",
        "R@5",
        "p50",
        "p99",
        "load avg (1/5/15 min)",
    ):
        table.add_column(column, justify="right")
    median_build = {s: statistics.median(r[s]["build"]["build_s"] for r in rounds) for s in systems}
    for system in systems:
        runs = [r[system] for r in rounds]
        ratio = (
            f"{median_build[system] / median_build['txtai']:.2f}"
            if "txtai" in median_build
            else "-"
        )
        table.add_row(
            system,
            " / ".join(f"{run['build']['build_s']:.1f}" for run in runs),
            ratio,
            f"{max(run['build']['peak_rss_mib'] for run in runs):,.0f} MiB",
            f"{statistics.median(run['serve']['rss_mib'] for run in runs):,.0f} MiB",
            f"{runs[-1]['serve']['recall@1']:.3f}",
            f"{runs[-1]['serve']['recall@5']:.3f}",
            f"{statistics.median(run['serve']['p50_ms'] for run in runs):.1f} ms",
            f"{statistics.median(run['serve']['p99_ms'] for run in runs):.1f} ms",
            "; ".join(run["load"] for run in runs),
        )
    return table


def main() -> None:
    """Build and query the same corpus with citeqa, txtai and Haystack; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--questions", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers-python", default=str(REPO / ".venv-peers" / "bin" / "python"))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args()
    from citeqa.config import get_settings

    systems = args.systems.split(",")
    if any(s != "citeqa" for s in systems) and not Path(args.peers_python).exists():
        raise SystemExit(f"{args.peers_python} is missing: run `make bench-peers` first")
    model = get_settings().resolved_embedding_model()
    console = Console(width=220)
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="citeqa-peers-") as scratch:
        work = Path(scratch)
        documents, questions = _write_inputs(args.dataset, args.questions, work)
        for number in range(args.rounds):
            order = systems[number % len(systems) :] + systems[: number % len(systems)]
            console.print(f"round {number + 1}: {', '.join(order)}")
            rounds.append(run_round(order, work, model, args.peers_python, console))
    backend = get_settings().embed_backend
    title = f"{documents} NYT dev paragraphs, {questions} questions (citeqa: {backend})"
    console.print(_table(rounds, systems, title))
    if "citeqa" in systems:
        whole = [r["citeqa"]["serve"] for r in rounds]
        console.print(
            "citeqa whole answer with the reader (every 3rd question): p50 "
            f"{statistics.median(w['answer_p50_ms'] for w in whole):.1f} ms, p99 "
            f"{statistics.median(w['answer_p99_ms'] for w in whole):.1f} ms; retrieval "
            f"distinct documents in the top 5: {whole[-1]['distinct@5']:.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=2))


if __name__ == "__main__":
    main()
