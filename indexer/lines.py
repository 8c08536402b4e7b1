"""Split a text into lines that remember their character offsets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One line of the original text, ``text == original[start:end]`` (no newline)."""

    start: int
    end: int
    text: str

    @property
    def stripped(self) -> str:
        """The line without surrounding whitespace."""
        return self.text.strip()


def split_lines(text: str) -> list[Line]:
    """Split ``text`` at newlines, keeping each line's offsets into ``text``."""
    lines = []
    start = 0
    for raw in text.split("\n"):
        lines.append(Line(start, start + len(raw), raw))
        start += len(raw) + 1
    return lines
