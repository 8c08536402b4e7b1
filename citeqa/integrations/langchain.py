"""A LangChain retriever over a running citeqa service that keeps every citation.

LangChain's chat wrappers (``ChatOpenAI`` and the like) read only the OpenAI fields of a
reply, so pointed at citeqa's ``/v1/chat/completions`` they keep the ``[1]`` markers and
drop the top-level ``citations`` object. :class:`CiteqaRetriever` calls ``POST /v1/query``
instead and returns one :class:`~langchain_core.documents.Document` per passage, with the
offsets that let anyone check it: ``source_text[char_start:char_end] == page_content``.

Install with ``pip install 'citeqa[langchain]'``.
"""

from __future__ import annotations

from typing import Any

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, field_validator

from citeqa.integrations.errors import ServiceCallError


class CiteqaRetriever(BaseRetriever):
    """Retrieve cited passages (and citeqa's extracted answer) from a citeqa service.

    Each ``Document`` is one passage: ``page_content`` is its text, and ``metadata`` holds
    ``doc_id``, ``title``, ``source``, ``published``, ``url``, ``char_start`` and
    ``char_end`` (offsets into the document's original text, as ``GET /v1/documents/{id}``
    returns it), ``rank`` and ``score``; then the query's answer span as ``answer_text``,
    ``answer_doc_id``, ``answer_char_start``, ``answer_char_end``, ``answer_confidence``
    and ``answer_sentence``, ``answer_in_passage`` (whether this passage holds that span)
    and ``sources_disagree``.

    Example (needs a running service, so not run as a doctest)::

        retriever = CiteqaRetriever(url="http://127.0.0.1:8000")
        passages = retriever.invoke("How many people has Mexico extradited?")
        passages[0].metadata["answer_text"]
        # -> '92'
    """

    url: str
    api_key: str | None = None
    top_k: int = Field(default=5, ge=1, le=50)
    # ``filters`` of /v1/query: {"sources": [...], "published_from": "YYYY-MM-DD", ...}.
    filters: dict[str, Any] | None = None
    timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    def _request(self, query: str) -> dict[str, Any]:
        body: dict[str, Any] = {"question": query, "top_k": self.top_k}
        if self.filters:
            body["filters"] = self.filters
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return {"url": f"{self.url}/v1/query", "json": body, "headers": headers}

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,  # noqa: ARG002 - LangChain passes it
    ) -> list[Document]:
        request = self._request(query)
        try:
            response = httpx.post(**request, timeout=self.timeout_s)
        except httpx.HTTPError as error:
            raise ServiceCallError(f"cannot reach citeqa at {self.url}: {error}") from error
        return documents_from_response(_checked(response))

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,  # noqa: ARG002 - LangChain passes it
    ) -> list[Document]:
        request = self._request(query)
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(**request)
        except httpx.HTTPError as error:
            raise ServiceCallError(f"cannot reach citeqa at {self.url}: {error}") from error
        return documents_from_response(_checked(response))


def _checked(response: httpx.Response) -> dict[str, Any]:
    if response.is_success:
        body: dict[str, Any] = response.json()
        return body
    try:
        reason = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        reason = response.text[:200]
    raise ServiceCallError(f"citeqa answered {response.status_code}: {reason}")


def documents_from_response(body: dict[str, Any]) -> list[Document]:
    """One ``Document`` per passage of a ``/v1/query`` response, with citation metadata."""
    answer = body.get("answer")
    citation = answer["citation"] if answer else {}
    # Flat keys, on every passage: LangChain's metadata filters and tracers read flat values,
    # and a chain that keeps only some passages still has the answer. None: abstained.
    answer_metadata = {
        "answer_text": answer["text"] if answer else None,
        "answer_doc_id": citation.get("doc_id"),
        "answer_char_start": citation.get("char_start"),
        "answer_char_end": citation.get("char_end"),
        "answer_confidence": answer["confidence"] if answer else None,
        "answer_sentence": citation.get("sentence"),
        "sources_disagree": body.get("sources_disagree", False),
        "question": body.get("question"),
    }
    documents = []
    for passage in body.get("passages", []):
        holds_answer = bool(
            answer
            and citation["doc_id"] == passage["doc_id"]
            and passage["char_start"] <= citation["char_start"]
            and citation["char_end"] <= passage["char_end"]
        )
        metadata = {
            key: passage.get(key)
            for key in ("doc_id", "title", "source", "published", "url", "char_start", "char_end")
        }
        metadata |= {"rank": passage.get("rank"), "score": passage.get("score")}
        metadata |= answer_metadata | {"answer_in_passage": holds_answer}
        documents.append(Document(page_content=passage["text"], metadata=metadata))
    return documents
