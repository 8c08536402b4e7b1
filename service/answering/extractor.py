"""The model-free answer extractor: typed spans from the best sentences.

For who / when / where / how-many / which questions it picks a named entity, number or noun
chunk of the expected type from the top sentences, scored by the sentence's relevance and by
how close the span sits to the question's words. Other questions are answered by the best
sentence itself. Spans that merely repeat the question are never returned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from citeqa.types import Span
from indexer.index import Index
from service.answering.question import QuestionType
from service.answering.terms import content_terms, word_spans
from service.retrieval.retriever import Passage, ScoredSentence

MAX_SENTENCES = 12
PASSAGE_RANK_DECAY = 0.04
PROXIMITY_SCALE = 6.0
CUMULATIVE_BONUS = 0.08
# Nationalities ("Mexican") fit "who" questions only weakly.
LABEL_WEIGHTS = {"NORP": 0.7, "CARDINAL": 1.0}
# Sentences stating a running total ("to date", "so far") answer "how many has X done".
_CUMULATIVE_SENTENCE = re.compile(
    r"\b(to date|so far|in total|a total of|altogether|overall|cumulative(ly)?|since)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?(?:%|percent|per cent))?(?![\w])"
)


@dataclass(frozen=True)
class Candidate:
    """A span that may answer the question, with the sentence it was found in."""

    doc_id: str
    start: int
    end: int
    text: str
    label: str
    score: float
    sentence: ScoredSentence


def top_sentences(passages: Sequence[Passage], limit: int = MAX_SENTENCES) -> list[ScoredSentence]:
    """The best sentences across passages, favouring better-ranked passages slightly."""
    seen: set[int] = set()
    ranked: list[tuple[float, ScoredSentence]] = []
    for rank, passage in enumerate(passages):
        for sentence in passage.sentences:
            if sentence.row in seen:
                continue
            seen.add(sentence.row)
            ranked.append((sentence.score * (1 - PASSAGE_RANK_DECAY * rank), sentence))
    ranked.sort(key=lambda item: -item[0])
    return [s for _, s in ranked[:limit]]


class SpanExtractor:
    """Extracts typed candidate spans from the sentences of retrieved passages."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def extract(
        self, question: str, question_type: QuestionType, passages: Sequence[Passage]
    ) -> list[Candidate]:
        sentences = top_sentences(passages)
        if question_type.wants_sentence:
            return [self._sentence_candidate(s) for s in sentences]
        question_terms = set(content_terms(question))
        candidates = []
        for sentence in sentences:
            for span in self._typed_spans(sentence, question_type):
                candidate = self._score(span, sentence, question_terms, question_type)
                if candidate is not None:
                    candidates.append(candidate)
        if not candidates:  # nothing of the expected type: the best sentence still answers
            return [self._sentence_candidate(s) for s in sentences]
        candidates.sort(key=lambda c: -c.score)
        return candidates

    @staticmethod
    def _sentence_candidate(sentence: ScoredSentence) -> Candidate:
        return Candidate(
            sentence.doc_id, sentence.start, sentence.end, sentence.text, "SENTENCE",
            sentence.score, sentence,
        )  # fmt: skip

    def _typed_spans(self, sentence: ScoredSentence, question_type: QuestionType) -> list[Span]:
        store = self.index.store
        entities = store.spans(sentence.doc_id, "entity", sentence.start, sentence.end)
        spans = [e for e in entities if e.label in question_type.labels]
        if question_type.numeric:
            covered = [(e.start, e.end) for e in entities]
            for match in _NUMBER.finditer(sentence.text):
                start, end = sentence.start + match.start(), sentence.start + match.end()
                if not any(s <= start and end <= e for s, e in covered):
                    spans.append(Span(start, end, "NUMBER"))
        if not question_type.labels:  # "which X" with an X we cannot type: noun phrases
            spans += store.spans(sentence.doc_id, "noun_chunk", sentence.start, sentence.end)
        return spans

    def _score(
        self,
        span: Span,
        sentence: ScoredSentence,
        question_terms: set[str],
        question_type: QuestionType,
    ) -> Candidate | None:
        text = self.index.documents[sentence.doc_id].text[span.start : span.end]
        span_terms = set(content_terms(text))
        if not text.strip() or (span_terms and span_terms <= question_terms):
            return None  # it only repeats the question
        if not span_terms and not question_type.numeric:
            return None
        proximity = self._proximity(span, sentence, question_terms)
        score = sentence.score * (0.55 + 0.45 * proximity) * LABEL_WEIGHTS.get(span.label, 1.0)
        if question_type.cumulative and _CUMULATIVE_SENTENCE.search(sentence.text):
            score += CUMULATIVE_BONUS
        return Candidate(sentence.doc_id, span.start, span.end, text, span.label, score, sentence)

    @staticmethod
    def _proximity(span: Span, sentence: ScoredSentence, question_terms: set[str]) -> float:
        """1 next to a question word, decaying with distance in words; 0.3 if none occur."""
        words = word_spans(sentence.text)
        offset = sentence.start
        span_index = [
            i
            for i, (s, e, _) in enumerate(words)
            if offset + s >= span.start and offset + e <= span.end
        ]
        anchors = [
            i for i, (s, e, term) in enumerate(words)
            if term in question_terms and not (offset + s >= span.start and offset + e <= span.end)
        ]  # fmt: skip
        if not anchors:
            return 0.3
        if not span_index:
            position = next(
                (i for i, (s, _, _) in enumerate(words) if offset + s >= span.start), len(words)
            )
            span_index = [position]
        distance = min(abs(a - p) for a in anchors for p in span_index)
        return math.exp(-max(distance - 1, 0) / PROXIMITY_SCALE)
