"""Answer candidates from the trained span reader: its own spans, verbatim.

The reader reads one window around the best sentence of each top passage, all in one batch,
and keeps the best few distinct spans per passage, so different values in different sources
survive to aggregation. A span's confidence is how far its score clears that passage's
no-answer score, squashed onto (0, 1); the abstention threshold is calibrated on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Protocol

from citeqa.config import READER_FLOOR
from citeqa.text import answer_key
from citeqa.types import Candidate, Passage, ScoredSentence
from service.answering.question import QuestionType, states_running_total
from service.answering.trim import minimal_span
from service.reading.reader import ReaderSpan

SPANS_PER_PASSAGE = 3
# A figure in another source is a disagreement whenever the reader is confident of it (its
# confidence passed the abstention threshold); for names only a near-equal rival counts.
ALTERNATIVE_RATIO = {"numeric": 0.0, "entity": 0.85}
# "How many has X done" is best answered by a running total ("to date, 92").
RUNNING_TOTAL_BONUS = 0.08
# A span of the wrong shape for its question is never the answer: a count or amount with no
# number in it ("cartel figures" for "how many"), or a time with no time word ("a security
# agent" for "when"). A confidence is below 1, so this penalty keeps such a span under the
# reader's floor, while it still counts among the reader's other spans.
WRONG_SHAPE_PENALTY = 1.0 - READER_FLOOR
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|"
    r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|"
    r"billions?|trillions?|dozens?|scores|half|third|quarter|once|twice|few|several|many|"
    r"none|no|all|single|lone|little|much|more|less|most|least|double[sd]?|triple[sd]?|"
    r"\w+fold)\b",
    re.IGNORECASE,
)
# "When" is answered by a time: a date, a weekday, a period, a count of days, or a clause
# that places the event ("after the election"). A span with none of these answers another
# question ("Donald Trump's return to the White House" for "on what date").
_TIME = re.compile(
    r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|today|tonight|yesterday|tomorrow|now|then|once|"
    r"recently|soon|later|earlier|ago|years?|months?|weeks?|weekends?|days?|nights?|"
    r"mornings?|afternoons?|evenings?|decades?|century|centuries|hours?|minutes?|seasons?|"
    r"spring|summer|fall|autumn|winter|christmas|easter|holidays?|eras?|age|times?|when|"
    r"whenever|while|as|if|after|before|since|until|during|following|early|late|last|next|"
    r"past|future|one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|"
    r"fifty|hundred|first|second|third|fourth|fifth|end|beginning|start|middle|annually|"
    r"daily|weekly|monthly|yearly|annual|biennial|often|rarely|seldom|never|always|"
    r"sometimes|frequently|regularly|indefinitely|period|term|war|election|eve|dawn|noon|midnight|"
    r"midmorning|overnight)\b",
    re.IGNORECASE,
)
# A point after a short capitalised word or an initial: "Sgt.", "Mr.", "U.S.", "E.".
_ABBREVIATION_END = re.compile(r"(\b[A-Z][a-z]{0,3}|\b[A-Z])\.\s*$")
# Margins (span score minus no-answer score) of this head run from about -10 to +15 logits;
# this scale maps a margin of 0 to 0.5 and a clear answer (+8 or more) to above 0.88.
MARGIN_SCALE = 4.0


class SpanReading(Protocol):
    def read(
        self,
        question: str,
        contexts: Sequence[str],
        focuses: Sequence[int] | None = None,
        spans_per_context: int = 3,
        stride: int = 128,
        prefer: Callable[[str], bool] | None = None,
    ) -> list[ReaderSpan]:
        """The best spans of each context, with their scores against the no-answer score."""


def confidence(margin: float) -> float:
    """The reader's margin as a confidence in (0, 1).

    >>> round(confidence(0.0), 2), round(confidence(8.0), 2)
    (0.5, 0.88)
    """
    return 1 / (1 + math.exp(-margin / MARGIN_SCALE))


def _sentence_of(passage: Passage, start: int, end: int) -> ScoredSentence | None:
    holding = [s for s in passage.sentences if s.start <= start and end <= s.end]
    if holding:
        return holding[0]
    overlapping = [s for s in passage.sentences if s.start < end and s.end > start]
    return max(overlapping, key=lambda s: s.score) if overlapping else None


def _within_one_sentence(passage: Passage, span: ReaderSpan) -> tuple[int, int]:
    """The span cut to the sentence that best matches the question, when it runs across a
    sentence end: "send more men to Ukraine. What eventually arrived was" joins two
    statements, and the answer is in one of them. Offsets are into the chunk."""
    offset = passage.chunk.char_start
    sentence = _sentence_of(passage, offset + span.char_start, offset + span.char_end)
    if sentence is None:
        return span.char_start, span.char_end
    text = passage.chunk.text
    start = max(span.char_start, sentence.start - offset)
    end = min(span.char_end, sentence.end - offset)
    # The sentence splitter also ends sentences after "Sgt." or "U.S.": no cut there.
    if start > span.char_start and _ABBREVIATION_END.search(text, 0, start):
        start = span.char_start
    if end < span.char_end and _ABBREVIATION_END.search(text, 0, end):
        end = span.char_end
    return (start, end) if start < end else (span.char_start, span.char_end)


def _focus(passage: Passage) -> int:
    """The middle of the passage's best sentence, in characters of the chunk."""
    if not passage.sentences:
        return 0
    best = max(passage.sentences, key=lambda s: s.score)
    return (best.start + best.end) // 2 - passage.chunk.char_start


def _is_figure(text: str) -> bool:
    """ "37", "1,200" or "three", not "37 inmates" or "$5 million"."""
    return answer_key(text).isdigit()


def _says_an_amount(question_type: QuestionType, text: str) -> bool:
    """A figure, a number word or a measure of degree ("thousands", "a few", "very
    little"); "how long" and "how often" are also answered by a time ("an hour", "monthly")."""
    if _NUMBER.search(text):
        return True
    return "DATE" in question_type.labels and bool(_TIME.search(text))


def _type_bonus(question_type: QuestionType, text: str, sentence: ScoredSentence) -> float:
    bonus = 0.0
    if question_type.numeric and not _says_an_amount(question_type, text):
        bonus -= WRONG_SHAPE_PENALTY
    if question_type.kind == "when" and not _TIME.search(text):
        bonus -= WRONG_SHAPE_PENALTY
    if question_type.cumulative and states_running_total(sentence.text):
        bonus += RUNNING_TOTAL_BONUS
    return bonus


class ReaderExtractor:
    """Turns reader spans over the top passages into citeable candidates.

    Args:
        reader: The span reader.
        passages: How many of the top passages to read.
        typed_rules: Re-rank the reader's spans by what the question asks for (a running
            total for "how many has X done").
    """

    def __init__(self, reader: SpanReading, passages: int = 3, typed_rules: bool = True) -> None:
        if passages < 1:
            raise ValueError("passages must be at least 1")
        self.reader = reader
        self.passages = passages
        self.typed_rules = typed_rules

    def extract(
        self, question: str, question_type: QuestionType, passages: Sequence[Passage]
    ) -> list[Candidate]:
        """Candidate answers read by the span reader from the top passages."""
        read = list(passages[: self.passages])
        if not read:
            return []
        # For a count, the bare figure wins a near-tie with the figure and its noun.
        prefer = _is_figure if self.typed_rules and question_type.numeric else None
        spans = self.reader.read(
            question,
            [p.chunk.text for p in read],
            [_focus(p) for p in read],
            SPANS_PER_PASSAGE,
            prefer=prefer,
        )
        candidates = []
        for span in spans:
            passage = read[span.context_index]
            chunk = passage.chunk
            local_start, local_end = minimal_span(
                chunk.text, *_within_one_sentence(passage, span), question_type
            )
            text = chunk.text[local_start:local_end]
            start, end = chunk.char_start + local_start, chunk.char_start + local_end
            sentence = _sentence_of(passage, start, end)
            if sentence is None:
                continue  # only possible for a chunk without sentence rows
            score = confidence(span.margin)
            if self.typed_rules:
                score += _type_bonus(question_type, text, sentence)
            candidates.append(Candidate(chunk.doc_id, start, end, text, "READER", score, sentence))
        candidates.sort(key=lambda c: -c.score)
        return candidates
