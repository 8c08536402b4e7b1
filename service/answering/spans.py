"""Candidate answer spans inside one sentence, by question type.

Typed questions take named entities (and numbers) of the expected label; "which X" and
"what ..." questions without a known type take noun phrases; "why" questions take causal
clauses. A possessive entity ("El Chapo’s") grows to its noun phrase ("El Chapo’s children").
"""

from __future__ import annotations

import re

from citeqa.types import ScoredSentence, Span
from indexer.index import Index
from service.answering.question import QuestionType

_NUMBER = re.compile(
    r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?(?:%|percent|per cent))?(?![\w])"
)
# A clause that gives a reason: "because ...", "to stave off ...", "citing ...", "given ...".
_CAUSE = re.compile(
    r"(?:\b(?:because(?: of)?|due to|owing to|as a result of|in order to|so that|so as to|"
    r"citing|given that|given)\b|(?:^|(?<=[,;]\s))to\b)[^.;:!?]*",
    re.IGNORECASE,
)
_POSSESSIVE = ("’s", "'s", "’", "'")


def _grow_possessive(span: Span, noun_chunks: list[Span], text: str) -> Span:
    if not text.endswith(_POSSESSIVE):
        return span
    for chunk in noun_chunks:
        if chunk.start <= span.start and chunk.end > span.end:
            return Span(chunk.start, chunk.end, span.label)
    return span


def cause_clauses(sentence: ScoredSentence) -> list[Span]:
    """Clauses that give a reason ("because ...", "to ...") inside the sentence."""
    spans = []
    for match in _CAUSE.finditer(sentence.text):
        clause = match.group(0).rstrip(' ,”"')
        if len(clause.split()) >= 3:
            start = sentence.start + match.start()
            spans.append(Span(start, start + len(clause), "CAUSE"))
    return spans


def candidate_spans(
    index: Index, document_text: str, sentence: ScoredSentence, question: QuestionType
) -> list[Span]:
    """Spans of the expected kind inside ``sentence`` (offsets into the document)."""
    if question.kind == "why":
        return cause_clauses(sentence)
    entities = index.spans(sentence.doc_id, "entity", sentence.start, sentence.end)
    noun_chunks = index.spans(sentence.doc_id, "noun_chunk", sentence.start, sentence.end)
    spans = [
        _grow_possessive(e, noun_chunks, document_text[e.start : e.end])
        for e in entities
        if e.label in question.labels
    ]
    if question.numeric:
        covered = [(e.start, e.end) for e in entities]
        for match in _NUMBER.finditer(sentence.text):
            start, end = sentence.start + match.start(), sentence.start + match.end()
            if not any(s <= start and end <= e for s, e in covered):
                spans.append(Span(start, end, "NUMBER"))
    if not question.labels:
        spans += entities + noun_chunks
    return spans
