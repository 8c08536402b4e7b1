"""Plain-text rendering of a result: for the CLI, and the chat endpoint's reply content."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from citeqa.types import Answer, Citation, Document, Passage, QueryResult

NO_ANSWER = "The indexed articles do not answer this question."
_SOURCE_LINE = re.compile(r"\[\d+\] ")


def describe_source(citation: Citation) -> str:
    """ "Title — Publisher, 2025-06-18" with whatever parts are known."""
    parts = [citation.title or citation.doc_id]
    tail = ", ".join(p for p in (citation.source, citation.published) if p)
    return f"{parts[0]} — {tail}" if tail else parts[0]


def _quote(answer: Answer) -> str:
    return f"“{answer.citation.sentence}”"


_LOWER_FIRST = frozenset(
    [
        "to",
        "in",
        "on",
        "so",
        "since",
        "during",
        "for",
        "by",
        "as",
        "at",
        "last",
        "this",
        "next",
        "a",
        "the",
        "per",
        "each",
        "every",
        "from",
        "until",
        "through",
        "between",
        "with",
        "of",
        "aboard",
        "before",
        "after",
        "all",
        "overall",
        "altogether",
    ]
)


def _scope_phrase(qualifier: str) -> str:
    """ "To date" reads "to date" after a figure; "February" stays as it is."""
    first, _, rest = qualifier.partition(" ")
    return f"{first.lower()} {rest}".strip() if first.lower() in _LOWER_FIRST else qualifier


def _with_scope(answer: Answer) -> str:
    """ "29 in February (2025-06-18)": the value, the scope its sentence gives, its date."""
    if not answer.qualifier:
        return answer.text
    text = f"{answer.text} {_scope_phrase(answer.qualifier)}"
    published = answer.citation.published
    return f"{text} ({published})" if published and answer.qualifier else text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _passage_citation(passage: Passage, documents: Mapping[str, Document]) -> Citation:
    chunk = passage.chunk
    return Citation.of(
        documents.get(chunk.doc_id),
        doc_id=chunk.doc_id,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        sentence=chunk.text,
        sentence_start=chunk.char_start,
        sentence_end=chunk.char_end,
    )


def _as_markdown(lines: list[str]) -> str:
    """Markdown merges consecutive lines into one paragraph: give each line its own block.

    Source lines become list items, and a list's items stay together.
    """
    blocks: list[str] = []
    for line in lines:
        if not line:
            continue
        item = "- " + line if _SOURCE_LINE.match(line) else line
        if blocks and not (item.startswith("- ") and blocks[-1].startswith("- ")):
            blocks.append("")
        blocks.append(item)
    return "\n".join(blocks)


def _answer_lines(answer: Answer, result: QueryResult, ref: Callable[[Citation], int]) -> list[str]:
    lines = [f"{_with_scope(answer)} [{ref(answer.citation)}]"]
    # A sentence-type answer is its own quote; repeating it adds nothing.
    if answer.text.strip() != answer.citation.sentence.strip():
        lines.append(f"{_quote(answer)} [{ref(answer.citation)}]")
    for citation in answer.supporting:
        lines.append(f"Also reported by [{ref(citation)}].")
    if result.alternatives:
        lines.append("")
        lines.append(
            "Sources disagree; other figures:" if result.sources_disagree else "Other figures:"
        )
        for alternative in result.alternatives:
            number = ref(alternative.citation)
            marker = " (disagrees)" if alternative.disagrees else ""
            lines.append(f"- {_with_scope(alternative)}{marker} [{number}]: {_quote(alternative)}")
    return lines


def _passage_lines(
    passages: Sequence[Passage], documents: Mapping[str, Document], ref: Callable[[Citation], int]
) -> list[str]:
    if not passages:
        return []
    lines = ["", "Closest passages:"]
    for passage in passages[:3]:
        citation = _passage_citation(passage, documents)
        lines.append(f"- [{ref(citation)}] {_clip(passage.chunk.text, 200)}")
    return lines


def render_response(
    result: QueryResult,
    documents: Mapping[str, Document] | None = None,
    markdown: bool = False,
) -> str:
    """The answer, its quoted sentence, other figures and numbered sources, as plain text.

    ``documents`` (the index's, by id) names the sources of the closest passages when there
    is no answer; ``markdown`` lays the same lines out so a Markdown renderer (a chat UI)
    keeps them apart.
    """
    sources: list[Citation] = []

    def ref(citation: Citation) -> int:
        for number, known in enumerate(sources, start=1):
            if known.doc_id == citation.doc_id:
                return number
        sources.append(citation)
        return len(sources)

    if result.answer is None:
        lines = [NO_ANSWER, *_passage_lines(result.passages, documents or {}, ref)]
    else:
        lines = _answer_lines(result.answer, result, ref)
    if sources:
        lines.append("")
        lines.append("Sources:")
        for number, citation in enumerate(sources, start=1):
            lines.append(f"[{number}] {describe_source(citation)} ({citation.doc_id})")
    return _as_markdown(lines) if markdown else "\n".join(lines)
