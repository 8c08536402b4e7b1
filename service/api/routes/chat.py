"""OpenAI-compatible chat completions (filled in by the chat issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["chat"])
