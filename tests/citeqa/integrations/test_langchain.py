"""CiteqaRetriever against the real service: every passage and the answer slice the source."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough

from citeqa.integrations.errors import ServiceCallError
from citeqa.integrations.langchain import CiteqaRetriever

QUESTION = "How many people has Mexico extradited?"


def _source_text(base_url: str, doc_id: str) -> str:
    response = httpx.get(f"{base_url}/v1/documents/{doc_id}", timeout=30)
    response.raise_for_status()
    text: str = response.json()["text"]
    return text


def _check_citations(documents: list[Document], base_url: str) -> None:
    assert documents
    for document in documents:
        meta = document.metadata
        source = _source_text(base_url, meta["doc_id"])
        assert source[meta["char_start"] : meta["char_end"]] == document.page_content
        assert {"title", "source", "published"} <= set(meta)
    holders = [d for d in documents if d.metadata["answer_in_passage"]]
    assert holders, "no passage holds the answer span"
    meta = holders[0].metadata
    answer_source = _source_text(base_url, meta["answer_doc_id"])
    answer_span = answer_source[meta["answer_char_start"] : meta["answer_char_end"]]
    assert answer_span == meta["answer_text"]
    assert "92" in answer_span
    assert 0 < meta["answer_confidence"] <= 1


def test_passages_and_answer_slice_their_sources(live_server_url: str) -> None:
    retriever = CiteqaRetriever(url=live_server_url, top_k=3)
    documents = retriever.invoke(QUESTION)
    assert len(documents) == 3
    assert [d.metadata["rank"] for d in documents] == [1, 2, 3]
    _check_citations(documents, live_server_url)


def test_async_retrieval_gives_the_same_passages(live_server_url: str) -> None:
    retriever = CiteqaRetriever(url=f"{live_server_url}/", top_k=3)
    documents = asyncio.run(retriever.ainvoke(QUESTION))
    assert documents == retriever.invoke(QUESTION)


def test_a_chain_keeps_the_citations(live_server_url: str) -> None:
    # The README's example: the answer and its sources travel together to the end.
    retriever = CiteqaRetriever(url=live_server_url)

    def cite(inputs: dict[str, object]) -> str:
        passages = inputs["passages"]
        assert isinstance(passages, list)
        first = passages[0].metadata
        sources = "\n".join(
            f"[{d.metadata['rank']}] {d.metadata['title']} ({d.metadata['doc_id']} "
            f"{d.metadata['char_start']}-{d.metadata['char_end']})"
            for d in passages
        )
        return f"{first['answer_text']} [{first['answer_doc_id']}]\n{sources}"

    chain = RunnableParallel(question=RunnablePassthrough(), passages=retriever) | RunnableLambda(
        cite
    )
    reply = chain.invoke(QUESTION)
    assert reply.startswith("92 [")
    assert "[1] " in reply


def test_an_error_carries_the_service_message(live_server_url: str) -> None:
    with pytest.raises(ServiceCallError, match=r"422.*question"):
        CiteqaRetriever(url=live_server_url).invoke("   ")


def test_an_unreachable_service_names_its_url() -> None:
    with pytest.raises(ServiceCallError, match=r"cannot reach citeqa at http://127\.0\.0\.1:9"):
        CiteqaRetriever(url="http://127.0.0.1:9", timeout_s=2).invoke(QUESTION)


def test_url_without_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        CiteqaRetriever(url="localhost:8000")
