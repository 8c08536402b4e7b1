"""One answer to one question, from the local engine or a running service over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from eval.errors import EvalError
from service.answering.engine import QueryEngine
from service.retrieval.retriever import RetrievalOptions


@dataclass(frozen=True)
class RetrievedPassage:
    doc_id: str
    chunk_id: str
    text: str


@dataclass(frozen=True)
class Prediction:
    answer: str | None
    alternatives: tuple[str, ...]
    sources_disagree: bool
    passages: tuple[RetrievedPassage, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    answer_doc_id: str | None = None
    confidence: float = 0.0


class Answerer(Protocol):
    def predict(self, question: str, top_k: int) -> Prediction:
        """Answer ``question`` with the top ``top_k`` passages."""


class LocalAnswerer:
    """Runs the engine in process with one retrieval configuration."""

    def __init__(self, engine: QueryEngine, options: RetrievalOptions) -> None:
        self.engine = engine
        self.options = options

    def predict(self, question: str, top_k: int) -> Prediction:
        """Answer ``question`` with the in-process engine."""
        result = self.engine.answer(question, top_k=top_k, options=self.options)
        return Prediction(
            answer=result.answer.text if result.answer else None,
            alternatives=tuple(a.text for a in result.alternatives),
            sources_disagree=result.sources_disagree,
            passages=tuple(
                RetrievedPassage(p.chunk.doc_id, p.chunk.chunk_id, p.chunk.text)
                for p in result.passages
            ),
            timings_ms=dict(result.timings_ms),
            answer_doc_id=result.answer.citation.doc_id if result.answer else None,
            confidence=result.answer.confidence if result.answer else 0.0,
        )


class RemoteAnswerer:
    """Asks a running citeqa service (``--against URL``) through POST /v1/query."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def predict(self, question: str, top_k: int) -> Prediction:
        """Answer ``question`` through a running service's ``/v1/query``."""
        response = self.client.post("/v1/query", json={"question": question, "top_k": top_k})
        if response.status_code != 200:
            raise EvalError(f"{response.status_code} from the service: {response.text[:200]}")
        body: dict[str, Any] = response.json()
        answer = body.get("answer")
        return Prediction(
            answer=answer["text"] if answer else None,
            alternatives=tuple(a["text"] for a in body.get("alternatives", [])),
            sources_disagree=bool(body.get("sources_disagree")),
            passages=tuple(
                RetrievedPassage(p["doc_id"], f"{p['doc_id']}@{p['char_start']}", p["text"])
                for p in body.get("passages", [])
            ),
            timings_ms={k: float(v) for k, v in body.get("timings_ms", {}).items()},
            answer_doc_id=answer["citation"]["doc_id"] if answer else None,
            confidence=float(answer["confidence"]) if answer else 0.0,
        )
