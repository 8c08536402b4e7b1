"""Reading and validating dataset files, with errors that name the file and line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from eval.errors import DatasetError

Row = TypeVar("Row", bound=BaseModel)


class BenchmarkRow(BaseModel):
    # Benchmark files carry extra fields (SQuADShifts "split", BEIR "metadata"): ignore them.
    model_config = ConfigDict(extra="ignore", frozen=True)


def describe_errors(error: ValidationError) -> str:
    """One line naming each field that failed validation and why."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'row'}: {item['msg']}"
        for item in error.errors()
    )


def read_text(path: Path, what: str) -> str:
    """Read a UTF-8 (optionally BOM-prefixed) text file, or raise DatasetError saying why not."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; pass the path of a {what}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot be read as UTF-8 text ({error}); re-save it") from error


def iter_jsonl(path: Path, model: type[Row], what: str) -> Iterator[tuple[int, Row]]:
    """Yield (line number, validated row) for every non-blank line of a JSONL file."""
    for number, line in enumerate(read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, model.model_validate_json(line)
        except ValidationError as error:
            raise DatasetError(
                f"{path}, line {number}: {describe_errors(error)}. Fix this line of the {what}"
            ) from error
