"""The chat page and the document viewer (static files, no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def chat_page() -> FileResponse:
    """The chat page."""
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/documents/{doc_id}")
def document_page(doc_id: str) -> FileResponse:  # noqa: ARG001 - document.js reads the id
    """The page that shows one document with a cited span highlighted."""
    return FileResponse(STATIC_DIR / "document.html")
