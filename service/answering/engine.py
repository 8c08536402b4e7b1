"""The query path: retrieve -> re-score -> extract -> aggregate, with per-stage timings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from citeqa.config import EXTRACTOR_ABSTAIN_THRESHOLD, READER_FLOOR, Settings
from citeqa.types import Candidate, Passage, QueryResult, ScoredSentence
from indexer.embedding import Embedder, Vectors
from indexer.index import Index
from service.answering.abstention import (
    CALIBRATION_FILE,
    AbstentionModel,
    Evidence,
    calibration_file,
    calibration_for,
    features,
    load_model,
    question_evidence,
)
from service.answering.aggregate import ALTERNATIVE_RATIO as EXTRACTOR_ALTERNATIVE_RATIO
from service.answering.aggregate import Aggregate, aggregate
from service.answering.extractor import SpanExtractor
from service.answering.question import QuestionType, asks_publication_date, classify_question
from service.answering.reader_extractor import ALTERNATIVE_RATIO as READER_ALTERNATIVE_RATIO
from service.answering.reader_extractor import ReaderExtractor, SpanReading
from service.errors import InvalidQuestionError
from service.retrieval.retriever import Filters, RetrievalOptions, Retriever

log = logging.getLogger("citeqa")


class PassageRetriever(Protocol):
    """What the engine retrieves with: a :class:`Retriever`, or the shards' coordinator
    beside the generation that reading and citations read from (service/distributed)."""

    @property
    def index(self) -> Index:
        """The generation whose documents answers are read from and cited in."""
        ...

    def retrieve(
        self,
        question: str,
        query_vector: Vectors,
        top_k: int,
        filters: Filters | None = None,
        options: RetrievalOptions | None = None,
    ) -> list[Passage]:
        """The ``top_k`` best passages."""
        ...


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round((time.perf_counter() - started) * 1000, 3)


@dataclass(frozen=True)
class Found:
    """What retrieval, reading and aggregation found for a question."""

    question_type: QuestionType
    passages: list[Passage]
    aggregate: Aggregate
    timings_ms: dict[str, float]
    # What the abstention model reads of the question as a whole (None without the reader).
    evidence: Evidence | None = None


class QueryEngine:
    """Answers questions from one loaded index generation.

    Build it with :func:`make_engine`, which reads its settings; the tests in
    tests/service/answering/test_engine.py run it with a fake retriever and reader.

    Example (needs a built index and the models, so not run as a doctest)::

        engine = make_engine(settings, load_index(index_dir, embedder), embedder, reader)
        engine.answer("How many people has Mexico extradited?").answer.text
        # -> '92'
    """

    def __init__(
        self,
        retriever: PassageRetriever,
        embedder: Embedder,
        abstain_threshold: float,
        reader: SpanReading | None = None,
        reader_passages: int = 3,
        typed_rules: bool = True,
        abstention: AbstentionModel | None = None,
    ) -> None:
        self.index = retriever.index
        self.retriever = retriever
        self.embedder = embedder
        self.abstain_threshold = abstain_threshold
        # With the reader, abstention is a model over the reader's score and how well the
        # passages match the question (abstention.py), and the threshold is on its
        # probability; candidates below the reader's floor are never answers. The
        # model-free extractor's threshold is on its own score.
        self.abstention = (abstention or load_model()) if reader is not None else None
        self.reader_floor = READER_FLOOR if reader is not None else abstain_threshold
        # The trained reader picks spans; the model-free extractor is the fallback.
        self.extractor: SpanExtractor | ReaderExtractor = (
            ReaderExtractor(reader, reader_passages, typed_rules)
            if reader is not None
            else SpanExtractor(self.index)
        )
        self.alternative_ratio = (
            READER_ALTERNATIVE_RATIO if reader is not None else EXTRACTOR_ALTERNATIVE_RATIO
        )
        if reader is None and not self.index.manifest.entities:
            log.warning(
                "%s was built for the span reader, without named entities or noun chunks: "
                "the model-free extractor answers with numbers and clauses only; rebuild "
                "with CITEQA_INDEX_ENTITIES=true to use it",
                self.index.folder,
            )

    def abstention_features(self, question: str, found: Found) -> list[float] | None:
        """What the abstention model reads about a found answer; None when it has no say
        (no answer, the model-free extractor, a byline date or a sentence answer)."""
        best = found.aggregate.best
        if best is None or found.evidence is None or best.label != "READER":
            return None
        aggregated = found.aggregate
        return features(
            question,
            best,
            aggregated.witnesses,
            aggregated.runner_up,
            found.passages,
            found.evidence,
        )

    def _trusting(
        self, question: str, passages: list[Passage], evidence: Evidence | None
    ) -> Callable[[Candidate, int, float], bool] | None:
        """Whether the abstention model would answer with a candidate: a value it would not
        answer with is no side of a disagreement."""
        model = self.abstention
        if model is None or evidence is None:
            return None

        def trusted(candidate: Candidate, witnesses: int, rival: float) -> bool:
            if candidate.label not in ("READER", "COPY"):
                return True
            row = features(question, candidate, witnesses, rival, passages, evidence)
            return model.probability(row) >= self.abstain_threshold

        return trusted

    def find(
        self,
        question: str,
        top_k: int = 5,
        filters: Filters | None = None,
        options: RetrievalOptions | None = None,
        retrieval_query: str | None = None,
    ) -> Found:
        """Retrieve, read and aggregate, before the abstention model has its say.

        Raises:
            InvalidQuestionError: The question is blank or ``top_k`` is below 1.
        """
        if not question.strip():
            raise InvalidQuestionError("question is empty: ask something")
        if top_k < 1:
            raise InvalidQuestionError("top_k must be at least 1")
        timer = _Timer()
        query_text = retrieval_query or question
        question_type = classify_question(question)
        with timer.stage("embed"):
            vector = self.embedder.encode_query(query_text)
        with timer.stage("retrieve"):
            # Read from more passages than are shown: the answer may sit in the sixth.
            passages = self.retriever.retrieve(query_text, vector, max(top_k, 8), filters, options)
        with timer.stage("read"):
            candidates: list[Candidate] = self.extractor.extract(question, question_type, passages)
            if asks_publication_date(question):
                # A byline date's confidence is its article's retrieval score, calibrated
                # against the model-free threshold: keep its margin over the reader's floor.
                shift = self.reader_floor - EXTRACTOR_ABSTAIN_THRESHOLD
                dates = publication_candidates(self.index, passages)
                candidates = [replace(c, score=c.score + shift) for c in dates] + candidates
        with timer.stage("aggregate"):
            evidence = (
                question_evidence(
                    question,
                    question_type.kind,
                    passages,
                    candidates,
                    self.index.stats,
                    self.reader_floor,
                )
                if isinstance(self.extractor, ReaderExtractor)
                else None
            )
            result = aggregate(
                self.index,
                candidates,
                question_type,
                self.reader_floor,
                self.alternative_ratio,
                passages,
                self._trusting(question, passages, evidence),
            )
        return Found(question_type, passages, result, timer.timings, evidence)

    def answer(
        self,
        question: str,
        top_k: int = 5,
        filters: Filters | None = None,
        options: RetrievalOptions | None = None,
        retrieval_query: str | None = None,
        reading_question: str | None = None,
    ) -> QueryResult:
        """Answer ``question``.

        ``retrieval_query`` (default: the question) drives retrieval and ``reading_question``
        (default: the question) is what the extractor reads, e.g. a chat follow-up read after
        the question it follows.

        Raises:
            InvalidQuestionError: The question is blank or ``top_k`` is below 1.
        """
        reading = reading_question or question
        found = self.find(reading, top_k, filters, options, retrieval_query or question)
        result = found.aggregate
        started = time.perf_counter()
        row = self.abstention_features(reading, found)
        model = self.abstention
        if (
            row is not None
            and model is not None
            and model.probability(row) < self.abstain_threshold
        ):
            result = Aggregate(None, [], False)
        timings = found.timings_ms
        timings["aggregate"] = round(
            timings["aggregate"] + (time.perf_counter() - started) * 1000, 3
        )
        timings["total"] = round(sum(timings.values()), 3)
        return QueryResult(
            question=question,
            question_type=found.question_type.kind,
            answer=result.answer,
            alternatives=tuple(result.alternatives),
            sources_disagree=result.sources_disagree,
            passages=tuple(found.passages[:top_k]),
            timings_ms=timings,
        )


def make_engine(
    settings: Settings,
    retriever: PassageRetriever | Index,
    embedder: Embedder,
    reader: SpanReading | None,
) -> QueryEngine:
    """The engine the settings describe, over ``retriever`` (an index is retrieved from by a
    :class:`Retriever`), answering with ``reader``, or the model-free extractor without one.

    The one place that turns settings into the engine's arguments: the service, the
    sharded service, the CLI's one-off engine and the tests all build it here.
    """
    if isinstance(retriever, Index):
        retriever = Retriever(retriever)
    abstention = reader_calibration(settings) if reader is not None else None
    calibrated = abstention.threshold if abstention is not None else None
    return QueryEngine(
        retriever,
        embedder,
        settings.resolved_abstain_threshold(reader is not None, calibrated),
        reader,
        reader_passages=settings.reader_passages,
        typed_rules=settings.reader_typed_rules,
        abstention=abstention,
    )


def reader_calibration(settings: Settings) -> AbstentionModel:
    """The abstention weights for the settings' reader: its folder's own
    (`python -m eval.calibrate_abstention --write` with it set), else the shipped reader's."""
    folder = settings.resolved_reader_model()
    path = calibration_for(folder)
    if path != calibration_file(folder):
        log.warning(
            "the reader %s has no %s of its own: abstaining with the shipped reader's weights, "
            "which may not fit its scores; fit them with CITEQA_READER_MODEL=%s python -m "
            "eval.calibrate_abstention --squad DEV.json --write",
            folder,
            CALIBRATION_FILE,
            folder,
        )
    return load_model(path)


def publication_candidates(index: Index, passages: Sequence[Passage]) -> list[Candidate]:
    """The written publication date of each retrieved article that has one, best first.

    The date lives in a byline or dateline, which is metadata, not a chunk, so no passage
    holds it. The indexer stores where the date is written; the answer quotes that span of
    the original text, so it is cited like any other answer.
    """
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
