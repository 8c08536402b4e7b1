"""Plain-text rendering of a result: for the CLI, and the chat endpoint's reply content."""

from __future__ import annotations

from citeqa.types import Answer, Citation
from service.answering.pipeline import QueryResult

NO_ANSWER = "The indexed articles do not answer this question."


def describe_source(citation: Citation) -> str:
    """ "Title — Publisher, 2025-06-18" with whatever parts are known."""
    parts = [citation.title or citation.doc_id]
    tail = ", ".join(p for p in (citation.source, citation.published) if p)
    return f"{parts[0]} — {tail}" if tail else parts[0]


def _quote(answer: Answer) -> str:
    return f"“{answer.citation.sentence}”"


def render_response(result: QueryResult) -> str:
    """The answer, its quoted sentence, other figures and numbered sources, as plain text."""
    lines: list[str] = []
    sources: list[Citation] = []

    def ref(citation: Citation) -> int:
        for number, known in enumerate(sources, start=1):
            if known.doc_id == citation.doc_id:
                return number
        sources.append(citation)
        return len(sources)

    if result.answer is None:
        lines.append(NO_ANSWER)
    else:
        answer = result.answer
        lines.append(f"{answer.text} [{ref(answer.citation)}]")
        lines.append(f"{_quote(answer)} [{ref(answer.citation)}]")
        for citation in answer.supporting:
            lines.append(f"Also reported by [{ref(citation)}].")
        if result.alternatives:
            lines.append("")
            lines.append("Sources disagree; other figures:" if result.sources_disagree else "")
            for alternative in result.alternatives:
                number = ref(alternative.citation)
                lines.append(f"- {alternative.text} [{number}]: {_quote(alternative)}")
    if result.answer is None and result.passages:
        lines.append("")
        lines.append("Closest passages:")
        for passage in result.passages[:3]:
            citation = Citation(
                passage.chunk.doc_id, passage.chunk.char_start, passage.chunk.char_end,
                passage.chunk.text, passage.chunk.char_start, passage.chunk.char_end,
            )  # fmt: skip
            lines.append(f"- [{ref(citation)}] {passage.chunk.text[:200]}")
    if sources:
        lines.append("")
        lines.append("Sources:")
        for number, citation in enumerate(sources, start=1):
            lines.append(f"[{number}] {describe_source(citation)} ({citation.doc_id})")
    return "\n".join(lines)
