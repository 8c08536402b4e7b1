"""One answer to one question, from the local engine or a running service over HTTP.

Both give the /v1/query response (``service.schemas.QueryResponse``), so the eval scores
what a client of the service reads, in the same shape either way.
"""

from __future__ import annotations

from typing import Protocol

import httpx
from pydantic import ValidationError

from eval.errors import EvalError
from service.answering.engine import QueryEngine
from service.retrieval.retriever import RetrievalOptions
from service.schemas import QueryResponse


class Answerer(Protocol):
    def predict(self, question: str, top_k: int) -> QueryResponse:
        """Answer ``question`` with the top ``top_k`` passages."""


class LocalAnswerer:
    """Runs the engine in process with one retrieval configuration."""

    def __init__(self, engine: QueryEngine, options: RetrievalOptions) -> None:
        self.engine = engine
        self.options = options

    def predict(self, question: str, top_k: int) -> QueryResponse:
        """Answer ``question`` with the in-process engine."""
        result = self.engine.answer(question, top_k=top_k, options=self.options)
        return QueryResponse.of(result, self.engine.index.documents)


class RemoteAnswerer:
    """Asks a running citeqa service (``--against URL``) through POST /v1/query."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def predict(self, question: str, top_k: int) -> QueryResponse:
        """Answer ``question`` through a running service's ``/v1/query``."""
        response = self.client.post("/v1/query", json={"question": question, "top_k": top_k})
        if response.status_code != 200:
            raise EvalError(f"{response.status_code} from the service: {response.text[:200]}")
        try:
            return QueryResponse.model_validate_json(response.content)
        except ValidationError as error:
            raise EvalError(
                f"the service at {self.client.base_url} answered in another shape than this "
                f"citeqa's /v1/query ({error.error_count()} errors, first: "
                f"{error.errors()[0]['loc']}: {error.errors()[0]['msg']}); run the eval from "
                "the same version as the service"
            ) from error
