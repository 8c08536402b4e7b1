"""One example per route for the OpenAPI schema (what /docs and /redoc show).

Figures come from the seed article ``002_b8ec4b7f77a3a021``, and every example is checked
against its route's response model by tests/service/api/test_openapi.py, so they cannot
drift from the real shapes unnoticed.
"""

from __future__ import annotations

from typing import Any

DOC_ID = "002_b8ec4b7f77a3a021"
TITLE = "Mexico president defends extradition of 37 cartel leaders to US as 'sovereign choice'"
SENTENCE = (
    "To date, Mexico has extradited 92 high-profile criminals wanted by US law enforcement as "
    "part of cooperation between the two countries amid pressure from US President Donald "
    "Trump on his southern neighbour to increase efforts to combat drug trafficking."
)
# No nulls: FastAPI drops None values from the schema, examples included.
SOURCE = {
    "title": TITLE,
    "source": "TRT World",
    "published": "2026-01-21",
    "url": "https://news.example/mexico-extraditions",
}
QUESTION = "How many people has Mexico extradited?"

CITATION = {
    "doc_id": DOC_ID,
    **SOURCE,
    "char_start": 1061,
    "char_end": 1063,
    "sentence": SENTENCE,
    "sentence_start": 1030,
    "sentence_end": 1283,
}

QUERY_REQUEST = {"question": QUESTION, "top_k": 3}

QUERY_RESPONSE: dict[str, Any] = {
    "question": QUESTION,
    "question_type": "how_many",
    "answer": {
        "text": "92",
        "confidence": 0.87,
        "answer_type": "how_many",
        "citation": CITATION,
        "supporting": [],
    },
    "alternatives": [],
    "sources_disagree": False,
    "passages": [
        {
            "rank": 1,
            "score": 0.0325,
            "doc_id": DOC_ID,
            **SOURCE,
            "text": SENTENCE,
            "char_start": 1030,
            "char_end": 1283,
            "also_reported_by": [],
        }
    ],
    "timings_ms": {"embed": 7.1, "retrieve": 5.2, "read": 31.4, "aggregate": 0.3},
}

DOCUMENT_SUMMARY = {"doc_id": DOC_ID, **SOURCE, "chunks": 6}
DOCUMENTS = {
    "data": [DOCUMENT_SUMMARY],
    "count": 1,
    "has_more": False,
    "last_id": DOCUMENT_SUMMARY["doc_id"],
}
DOCUMENT = {**DOCUMENT_SUMMARY, "text": f"{TITLE}\n\n... {SENTENCE} ..."}
DOCUMENT_CREATE = {
    "doc_id": "budget-2026-03",
    "text": "Parliament passes the 2026 budget\n\nThe budget passed by 212 votes to 180 ...",
    "title": "Parliament passes the 2026 budget",
    "source": "Example News",
    "url": "https://news.example/budget-2026",
    "published": "2026-03-02",
}
WRITE_RESULT = {
    "doc_id": "budget-2026-03",
    "status": "added",
    "documents": 6,
    "chunks": 25,
    "generation": 4,
}
DELETE_RESULT = {**WRITE_RESULT, "status": "deleted", "documents": 5, "chunks": 23}
HEALTH = {"status": "ok"}
READINESS = {
    "ready": True,
    "embedding_model": "all-MiniLM-L6-v2 (onnx-int8)",
    "reader_model": "service/reading/model",
    "index_dir": "data/index",
    "generation": 3,
    "documents": 5,
    "chunks": 23,
    "page_cache": "warm",
}
MODEL_CARD = {"id": "citeqa", "object": "model", "created": 1767225600, "owned_by": "citeqa"}
MODEL_LIST = {"object": "list", "data": [MODEL_CARD]}
CHAT_REQUEST = {"model": "citeqa", "messages": [{"role": "user", "content": QUESTION}]}
CHAT_COMPLETION = {
    "id": "chatcmpl-4f1c0e5a",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "citeqa",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": f"92 [1]\n\n> {SENTENCE}\n\n[1] {TITLE}"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 6, "completion_tokens": 60, "total_tokens": 66},
    "citations": {**QUERY_RESPONSE, "retrieval_query": QUESTION},
}


def ok(example: dict[str, Any], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry that shows ``example`` as the JSON body of a success."""
    return {status: {"content": {"application/json": {"example": example}}}}


def request_example(summary: str, value: dict[str, Any]) -> dict[str, Any]:
    """``Body(openapi_examples=...)`` with one named example."""
    return {"example": {"summary": summary, "value": value}}
