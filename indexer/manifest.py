"""``manifest.json``: what a generation holds and how it was built, checked on every load."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from indexer.errors import IndexCorruptError

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


class ChunkerSettings(BaseModel):
    chunk_size_tokens: int
    chunk_overlap_tokens: int


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    generation: int
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    model_name: str
    dimension: int
    # How the vectors were made (indexer/embedding.py); manifests from before backends
    # existed were all built with torch.
    embed_backend: str = "torch"
    # A hash of the model's weight files, and of the ONNX export used (None on torch).
    embed_weights: str | None = None
    embed_export: str | None = None
    # Whether every document has named entities and noun chunks (the model-free extractor
    # reads them), or sentences alone.
    entities: bool = True
    faiss_index_type: str
    chunker: ChunkerSettings
    documents: int
    chunks: int
    sentences: int
    content_hashes: dict[str, str]

    def write(self, folder: Path) -> None:
        path = folder / MANIFEST_NAME
        path.write_text(self.model_dump_json(indent=2))

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError as error:
            raise IndexCorruptError(
                f"{path} is missing: the generation is incomplete; rebuild with "
                "`citeqa index build`"
            ) from error
        except ValidationError as error:
            raise IndexCorruptError(
                f"{path} is not a valid manifest ({error.error_count()} errors); rebuild with "
                "`citeqa index build`"
            ) from error
