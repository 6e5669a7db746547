"""Choose and build the LLM backend from settings; the one place that knows every backend.

`auto` prefers a local Ollama with the configured model (the real target, llama3.1:8b)
and otherwise falls back to the embedded llama.cpp model, saying so. With several endpoints
(`QUIRE_LLM__ENDPOINTS`) the chosen server kind is built once per endpoint and pooled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.errors import UnknownBackend
from rag.llm.base import LLMBackend
from rag.llm.probe import ollama_status
from rag.settings import LLMSettings

BACKEND_NAMES = ("auto", "ollama", "llamacpp", "openai")


@dataclass(frozen=True)
class BackendChoice:
    backend: LLMBackend
    reason: str  # why this backend answers, shown by `doctor` and the UI


def _ollama(settings: LLMSettings) -> LLMBackend:
    from rag.llm.ollama import OllamaBackend

    return OllamaBackend(
        host=settings.ollama_host,
        model=settings.model,
        num_ctx=settings.num_ctx,
        keep_alive=settings.keep_alive,
        temperature=settings.temperature,
        timeout_s=settings.timeout_s,
    )


def _llamacpp(settings: LLMSettings) -> LLMBackend:
    from rag.llm.llamacpp import LlamaCppBackend

    return LlamaCppBackend(settings.model_path, settings.num_ctx, settings.threads, settings.temperature)


def _openai(settings: LLMSettings) -> LLMBackend:
    from rag.llm.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(
        base_url=settings.openai_base_url,
        model=settings.model,
        num_ctx=settings.num_ctx,
        api_key=settings.openai_api_key,
        temperature=settings.temperature,
        timeout_s=settings.timeout_s,
    )


_BUILDERS: dict[str, Callable[[LLMSettings], LLMBackend]] = {
    "ollama": _ollama,
    "llamacpp": _llamacpp,
    "openai": _openai,
}
# The setting that holds the one address, per backend that can talk to several servers.
_ADDRESS_FIELD = {"ollama": "ollama_host", "openai": "openai_base_url"}


def _pool(settings: LLMSettings) -> LLMBackend:
    """One backend per endpoint, behind a pool that spreads requests and skips failing servers."""
    from rag.llm.pool import BackendPool

    field = _ADDRESS_FIELD.get(settings.backend)
    if field is None:
        raise UnknownBackend(
            f"QUIRE_LLM__ENDPOINTS lists servers, which needs QUIRE_LLM__BACKEND=openai or ollama "
            f"(it is {settings.backend!r})"
        )
    builder = _BUILDERS[settings.backend]
    members = [
        (builder(settings.model_copy(update={field: e.url})), e.concurrency or settings.endpoint_concurrency)
        for e in settings.endpoints
    ]
    return BackendPool(members, retry_s=settings.endpoint_retry_s)


def _probe_ollama(settings: LLMSettings) -> tuple[LLMBackend | None, str]:
    """An Ollama backend when the daemon answers and has the model, else why not."""
    status = ollama_status(settings)
    return (_ollama(settings) if status.ok else None), status.message


def choose_backend(settings: LLMSettings) -> BackendChoice:
    """Build the backend the settings ask for; `auto` tries Ollama, then the embedded model."""
    name = settings.backend
    if settings.endpoints:
        return BackendChoice(_pool(settings), f"QUIRE_LLM__ENDPOINTS lists {len(settings.endpoints)} servers")
    if name == "auto":
        backend, reason = _probe_ollama(settings)
        if backend is not None:
            return BackendChoice(backend, reason)
        return BackendChoice(_llamacpp(settings), f"{reason}; using the embedded llama.cpp model")
    builder = _BUILDERS.get(name)
    if builder is None:
        raise UnknownBackend(f"unknown LLM backend {name!r}: choose one of {', '.join(BACKEND_NAMES)}")
    return BackendChoice(builder(settings), f"QUIRE_LLM__BACKEND={name}")
