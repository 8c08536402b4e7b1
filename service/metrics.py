"""Domain metrics on /metrics, beside the HTTP ones: answers, stage latency, index, writes.

Every series starts with ``citeqa_`` and names its unit (``_seconds``); latencies and the
answer confidence are histograms, so an operator can compute quantiles over any window.
Each app has its own registry (with the process and Python collectors), so two apps in one
process, as in the tests, never share or clash over a series.

Queries are counted by ``outcome``, one per query: ``answered``, ``disagreement`` (answered,
and sources give other values too) or ``abstained`` (no answer above the threshold).
Writes are counted by ``operation`` (``add``, ``delete``) and ``result``: the document's
status (``added``, ``replaced``, ``unchanged``, ``deleted``), ``rejected`` (the request
was at fault: a 4xx) or ``failed`` (the server was: disk full, a writer holding the lock).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from citeqa.errors import CiteqaError
from citeqa.types import QueryResult
from indexer.manifest import Manifest
from service.api.errors import http_status

# The query path's stages, as QueryResult.timings_ms names them (service/answering/engine.py).
STAGES = ("embed", "retrieve", "read", "aggregate")
# Seconds: a stage takes from well under a millisecond (aggregate) to a few hundred (read
# on a busy machine); a whole query up to seconds under load.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
WRITE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
CONFIDENCE_BUCKETS = tuple(round(0.1 * step, 1) for step in range(1, 11))

QueryOutcome = Literal["answered", "disagreement", "abstained"]
WriteOperation = Literal["add", "delete"]


def query_outcome(result: QueryResult) -> QueryOutcome:
    """How a query ended, for ``citeqa_queries_total``."""
    if result.answer is None:
        return "abstained"
    return "disagreement" if result.sources_disagree else "answered"


@dataclass
class WriteOutcome:
    """What a write did; the route sets ``result`` once it knows (see :meth:`recording_write`)."""

    result: str = "failed"


class IndexCollector(Collector):
    """The served generation's numbers, read at each scrape (nothing while none is loaded)."""

    def __init__(self, served_manifest: Callable[[], Manifest | None]) -> None:
        self.served_manifest = served_manifest

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Gauges of the generation being served."""
        manifest = self.served_manifest()
        if manifest is None:
            return
        values = {
            "generation": ("The index generation being served", manifest.generation),
            "documents": ("Documents in the served generation", manifest.documents),
            "chunks": ("Chunks (passages) in the served generation", manifest.chunks),
            "segments": ("Segments the served generation reads", len(manifest.segments)),
        }
        for name, (description, value) in values.items():
            yield GaugeMetricFamily(f"citeqa_index_{name}", description, value=value)


class ServiceMetrics:
    """The app's registry and its citeqa series."""

    def __init__(self, served_manifest: Callable[[], Manifest | None]) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.registry.register(IndexCollector(served_manifest))
        self.queries = Counter(
            "citeqa_queries",
            "Questions answered (/v1/query and chat) by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.query_duration = Histogram(
            "citeqa_query_duration_seconds",
            "Time to answer a question, all stages",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_duration = Histogram(
            "citeqa_query_stage_duration_seconds",
            "Time per stage of the query path (embed, retrieve, read, aggregate)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.confidence = Histogram(
            "citeqa_answer_confidence",
            "Confidence of the answers given (0-1; abstentions are not answers)",
            buckets=CONFIDENCE_BUCKETS,
            registry=self.registry,
        )
        self.writes = Counter(
            "citeqa_index_writes",
            "Document writes through the API by operation and result",
            ["operation", "result"],
            registry=self.registry,
        )
        self.write_duration = Histogram(
            "citeqa_index_write_duration_seconds",
            "Time to write and publish a new generation through the API",
            ["operation"],
            buckets=WRITE_BUCKETS,
            registry=self.registry,
        )
        # Every label value from the start, so a dashboard shows 0 rather than no data.
        for outcome in ("answered", "disagreement", "abstained"):
            self.queries.labels(outcome)
        for stage in STAGES:
            self.stage_duration.labels(stage)

    def record_query(self, result: QueryResult) -> None:
        """Count one answered question and observe its stages and confidence."""
        self.queries.labels(query_outcome(result)).inc()
        for stage in STAGES:
            if stage in result.timings_ms:
                self.stage_duration.labels(stage).observe(result.timings_ms[stage] / 1000)
        self.query_duration.observe(sum(result.timings_ms.get(s, 0.0) for s in STAGES) / 1000)
        if result.answer is not None:
            self.confidence.observe(result.answer.confidence)

    @contextmanager
    def recording_write(self, operation: WriteOperation) -> Iterator[WriteOutcome]:
        """Time a write and count it by the result the body sets, or by the error it raised."""
        outcome = WriteOutcome()
        started = time.perf_counter()
        try:
            yield outcome
        except CiteqaError as error:
            outcome.result = "rejected" if 400 <= http_status(error) < 500 else "failed"
            raise
        finally:
            self.writes.labels(operation, outcome.result).inc()
            self.write_duration.labels(operation).observe(time.perf_counter() - started)
