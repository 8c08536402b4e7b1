"""The model-free answer extractor: typed spans from the best sentences.

For who / when / where / how-many / which / what questions it picks a named entity, number
or noun phrase of the expected kind from the top sentences, scored by the sentence's
relevance and by how close the span sits to the question's words; "why" questions take a
causal clause. Definitions and "how" questions are answered by the best sentence itself.
Spans that merely repeat the question are never returned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from citeqa.text import content_terms, stem, word_spans
from citeqa.types import Candidate, Passage, ScoredSentence, Span
from indexer.index import Index
from service.answering.question import QuestionType, states_running_total
from service.answering.spans import candidate_spans

MAX_SENTENCES = 12
PASSAGE_RANK_DECAY = 0.04
PROXIMITY_SCALE = 6.0
CUMULATIVE_BONUS = 0.08
FOCUS_BONUS = 1.15
PREFIX = 5  # "Mexican" and "Mexico" are the same word for "does it repeat the question"
# Nationalities ("Mexican") fit "who" questions only weakly.
LABEL_WEIGHTS = {"NORP": 0.7}
_WH_START = re.compile(r"(what|which|who|whom|whose|where|when|why|how)\b", re.IGNORECASE)
_MONTH_OR_DIGIT = re.compile(
    r"\d|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE
)
_VAGUE_TIME = re.compile(
    r"^(today|now|this (day|week|month|year)|recent (days|weeks|months|years)|recently|"
    r"earlier this \w+|later|the past|currently|these days)$",
    re.IGNORECASE,
)


def top_sentences(passages: Sequence[Passage], limit: int = MAX_SENTENCES) -> list[ScoredSentence]:
    """The best sentences across passages, favouring better-ranked passages slightly."""
    seen: set[int] = set()
    ranked: list[tuple[float, ScoredSentence]] = []
    for rank, passage in enumerate(passages):
        sentences = [s for p in (passage, *passage.duplicates) for s in p.sentences]
        for sentence in sentences:
            if sentence.row in seen:
                continue
            seen.add(sentence.row)
            ranked.append((sentence.score * (1 - PASSAGE_RANK_DECAY * rank), sentence))
    ranked.sort(key=lambda item: -item[0])
    return [s for _, s in ranked[:limit]]


def _prefixes(terms: set[str]) -> set[str]:
    return {t[:PREFIX] for t in terms}


class SpanExtractor:
    """Extracts candidate answer spans from the sentences of retrieved passages."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def extract(
        self, question: str, question_type: QuestionType, passages: Sequence[Passage]
    ) -> list[Candidate]:
        """Candidate answers of the expected type from the passages' best sentences."""
        sentences = top_sentences(passages)
        if question_type.wants_sentence:
            return [self._sentence_candidate(s) for s in sentences]
        question_terms = set(content_terms(question))
        candidates = []
        for sentence in sentences:
            text = self.index.documents[sentence.doc_id].text
            for span in candidate_spans(self.index, text, sentence, question_type):
                candidate = self._score(span, text, sentence, question_terms, question_type)
                if candidate is not None:
                    candidates.append(candidate)
        if not candidates:  # nothing of the expected kind: the best sentence still answers
            return [self._sentence_candidate(s) for s in sentences]
        candidates.sort(key=lambda c: -c.score)
        return candidates

    @staticmethod
    def _sentence_candidate(sentence: ScoredSentence) -> Candidate:
        return Candidate(
            sentence.doc_id,
            sentence.start,
            sentence.end,
            sentence.text,
            "SENTENCE",
            sentence.score,
            sentence,
        )

    def _score(
        self,
        span: Span,
        document_text: str,
        sentence: ScoredSentence,
        question_terms: set[str],
        question_type: QuestionType,
    ) -> Candidate | None:
        text = document_text[span.start : span.end].strip()
        span_terms = set(content_terms(text))
        if not text or (span_terms and _prefixes(span_terms) <= _prefixes(question_terms)):
            return None  # it only repeats the question
        if not span_terms and not question_type.numeric:
            return None
        if _WH_START.match(text):
            return None  # "what kind", "which": a relative clause's wh-word, never an answer
        proximity = _proximity(span, sentence, question_terms)
        score = sentence.score * (0.55 + 0.45 * proximity) * LABEL_WEIGHTS.get(span.label, 1.0)
        score *= _type_fit(text, span, sentence, question_type)
        if question_type.cumulative and states_running_total(sentence.text):
            score += CUMULATIVE_BONUS
        start = span.start + document_text[span.start : span.end].index(text)
        return Candidate(
            sentence.doc_id, start, start + len(text), text, span.label, score, sentence
        )


def _type_fit(text: str, span: Span, sentence: ScoredSentence, question: QuestionType) -> float:
    """Small multipliers for how well a span fits what the question asks for."""
    factor = 1.0
    if question.focus:
        focus = stem(question.focus)[:PREFIX]
        if question.kind == "how_many":
            # "how many relatives": the number should count relatives ("17 relatives").
            after = sentence.text[span.end - sentence.start :][:40]
            if any(t[:PREFIX] == focus for t in content_terms(after)[:3]):
                factor *= FOCUS_BONUS
        elif any(t[:PREFIX] == focus for t in content_terms(text)):
            factor *= FOCUS_BONUS  # "which cartel" -> "the Sinaloa Cartel"
    if question.kind == "when":
        if _VAGUE_TIME.match(text):
            factor *= 0.6
        elif _MONTH_OR_DIGIT.search(text):
            factor *= 1.1
    return factor


def _proximity(span: Span, sentence: ScoredSentence, question_terms: set[str]) -> float:
    """1 next to a question word, decaying with distance in words; 0.3 if none occur."""
    words = word_spans(sentence.text)
    offset = sentence.start
    prefixes = _prefixes(question_terms)

    def inside(start: int, end: int) -> bool:
        return offset + start >= span.start and offset + end <= span.end

    span_index = [i for i, (s, e, _) in enumerate(words) if inside(s, e)]
    anchors = [
        i for i, (s, e, term) in enumerate(words) if term[:PREFIX] in prefixes and not inside(s, e)
    ]
    if not anchors:
        return 0.3
    if not span_index:
        position = next(
            (i for i, (s, _, _) in enumerate(words) if offset + s >= span.start), len(words)
        )
        span_index = [position]
    distance = min(abs(a - p) for a in anchors for p in span_index)
    return math.exp(-max(distance - 1, 0) / PROXIMITY_SCALE)
