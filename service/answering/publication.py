"""Questions about an article itself: "When was the report ... published?".

The date lives in a byline or dateline, which is metadata, not a chunk, so no passage holds
it. The indexer stores where the date is written; the answer quotes that span of the
original text, so it is cited like any other answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from citeqa.types import Candidate, Passage, ScoredSentence
from indexer.index import Index

_PUBLICATION = re.compile(
    r"^\s*(when|on what (date|day)|what (date|day))\b.*\b(published|posted|dated|written|"
    r"released|put out|appeared)\b",
    re.IGNORECASE,
)


def asks_publication_date(question: str) -> bool:
    """True for "when was ... published" and its variants."""
    return bool(_PUBLICATION.search(question))


def publication_candidates(index: Index, passages: Sequence[Passage]) -> list[Candidate]:
    """The written publication date of each retrieved article that has one, best first."""
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for passage in passages:
        doc_id = passage.chunk.doc_id
        if doc_id in seen:
            continue
        seen.add(doc_id)
        spans = index.spans(doc_id, "metadata")
        dates = [s for s in spans if s.label == "published"]
        if not dates:
            continue
        text = index.documents[doc_id].text
        date = dates[0]
        line_start = text.rfind("\n", 0, date.start) + 1
        line_end = text.find("\n", date.end)
        line_end = len(text) if line_end < 0 else line_end
        # The date is certain once the article is right: confidence is how well the
        # article matches the question.
        best = passage.score
        line = ScoredSentence(
            -1, doc_id, line_start, line_end, text[line_start:line_end], best, 0.0, best
        )
        candidates.append(
            Candidate(
                doc_id,
                date.start,
                date.end,
                text[date.start : date.end],
                "DATE",
                best,
                line,
            )
        )
    return candidates
