"""Answer candidates from a neural extractive-QA reader (when CITEQA_READER_MODEL is set).

The reader reads the top passages; each span it returns is mapped back to document offsets
and to the sentence that holds it, so citations work exactly as for the model-free
extractor. A span's strength is how far its score clears the window's null score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from service.answering.extractor import Candidate, top_sentences
from service.answering.question import QuestionType
from service.reading.neural_reader import ReaderSpan
from service.retrieval.retriever import Passage, ScoredSentence

READ_PASSAGES = 5
SPANS_PER_QUESTION = 10
# Logit margins of QA heads are a few units wide; this maps them onto (0, 1).
MARGIN_SCALE = 4.0
READER_WEIGHT = 0.6


class SpanReader(Protocol):
    def extract(
        self, question: str, contexts: Sequence[str], top_n: int = 5
    ) -> list[ReaderSpan]: ...


def _sentence_of(passage: Passage, start: int, end: int) -> ScoredSentence | None:
    holding = [s for s in passage.sentences if s.start <= start and end <= s.end]
    if holding:
        return holding[0]
    overlapping = [s for s in passage.sentences if s.start < end and s.end > start]
    return max(overlapping, key=lambda s: s.score) if overlapping else None


class ReaderExtractor:
    """Turns reader spans over the top passages into citeable candidates."""

    def __init__(self, reader: SpanReader) -> None:
        self.reader = reader

    def extract(
        self, question: str, question_type: QuestionType, passages: Sequence[Passage]
    ) -> list[Candidate]:
        read = list(passages[:READ_PASSAGES])
        if not read:
            return []
        spans = self.reader.extract(question, [p.chunk.text for p in read], SPANS_PER_QUESTION)
        candidates = []
        for span in spans:
            passage = read[span.context_index]
            start = passage.chunk.char_start + span.char_start
            end = passage.chunk.char_start + span.char_end
            sentence = _sentence_of(passage, start, end)
            if sentence is None:
                continue
            strength = 1 / (1 + math.exp(-(span.score - span.null_score) / MARGIN_SCALE))
            score = READER_WEIGHT * strength + (1 - READER_WEIGHT) * sentence.score
            candidates.append(
                Candidate(passage.chunk.doc_id, start, end, span.text, "READER", score, sentence)
            )
        if not candidates:  # the reader found nothing: fall back to the best sentence
            return [
                Candidate(s.doc_id, s.start, s.end, s.text, "SENTENCE", s.score, s)
                for s in top_sentences(passages)
            ]
        candidates.sort(key=lambda c: -c.score)
        return candidates
