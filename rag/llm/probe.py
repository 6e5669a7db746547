"""Is the configured Ollama usable, and what does a context window cost? Shown by the web app's sidebar.

The answer is a sentence a person can act on ("start it with `ollama serve`", "run `ollama pull …`"),
never a stack trace, because the usual reason for weak answers is an Ollama that is down.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import QuireError
from rag.llm.ollama import OllamaBackend
from rag.settings import LLMSettings
from rag.tokens import kv_cache_gib

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class OllamaStatus:
    host: str
    model: str
    reachable: bool
    has_model: bool
    models: tuple[str, ...]
    message: str  # what it means and, when something is wrong, what to do

    @property
    def ok(self) -> bool:
        return self.reachable and self.has_model


def ollama_status(settings: LLMSettings) -> OllamaStatus:
    """Ask the Ollama at `settings.ollama_host` which models it has (2 s at most)."""
    backend = OllamaBackend(settings.ollama_host, settings.model, settings.num_ctx, timeout_s=PROBE_TIMEOUT_S)
    try:
        models = tuple(backend.installed_models())
    except QuireError:
        message = (
            f"Ollama is not answering at {backend.host}: start it with `ollama serve` (or set QUIRE_LLM__OLLAMA_HOST)."
        )
        return OllamaStatus(backend.host, settings.model, False, False, (), message)
    wanted = settings.model if ":" in settings.model else f"{settings.model}:latest"
    if wanted in models:
        return OllamaStatus(
            backend.host,
            settings.model,
            True,
            True,
            models,
            f"Ollama at {backend.host} has {settings.model}.",
        )
    message = f"Ollama answers at {backend.host} but {settings.model} is missing: "
    message += f"run `ollama pull {settings.model}`."
    return OllamaStatus(backend.host, settings.model, True, False, models, message)


def describe_kv_cache(num_ctx: int) -> str:
    gib = kv_cache_gib(num_ctx)
    return f"≈ {gib:.2f} GiB of KV cache for llama3.1:8b in f16 (half with OLLAMA_KV_CACHE_TYPE=q8_0)"
