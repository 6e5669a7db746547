"""The OpenAI-compatible backend against a real server: llama-cpp-python's `python -m llama_cpp.server`
on 127.0.0.1 with the built-in SmolLM2 model. Replies are a few tokens long: this proves the protocol."""

from __future__ import annotations

import pytest

from rag.errors import BackendUnavailable, ContextOverflow, ModelNotFound, QuireError
from rag.llm.choose import choose_backend
from rag.llm.openai_compat import OpenAICompatBackend
from rag.settings import Settings
from tests.servers import LLAMA_ALIAS, LLAMA_CTX, ServerProcess, free_port, openai_url

QUESTION = [{"role": "user", "content": "Name one colour."}]
PARTY_SCHEMA = {
    "type": "object",
    "properties": {"party": {"type": "string", "enum": ["Acme Inc.", "Blue River LLC"]}},
    "required": ["party"],
}


def backend_for(url: str, num_ctx: int = LLAMA_CTX, timeout_s: float = 60.0) -> OpenAICompatBackend:
    return OpenAICompatBackend(base_url=url, model=LLAMA_ALIAS, num_ctx=num_ctx, timeout_s=timeout_s)


@pytest.mark.slow
def test_complete_through_the_registry(llama_server: ServerProcess) -> None:
    settings = Settings(
        llm={
            "backend": "openai",
            "openai_base_url": openai_url(llama_server),
            "model": LLAMA_ALIAS,
            "num_ctx": 2048,
        }
    )
    choice = choose_backend(settings.llm)
    assert isinstance(choice.backend, OpenAICompatBackend)
    completion = choice.backend.complete(QUESTION, max_tokens=8)
    assert completion.text.strip()
    assert completion.usage.prompt_tokens > 0 and 0 < completion.usage.completion_tokens <= 12


@pytest.mark.slow
def test_streams_pieces_then_usage(llama_server: ServerProcess) -> None:
    stream = backend_for(openai_url(llama_server)).stream_chat(QUESTION, max_tokens=8)
    assert stream.usage is None
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert stream.usage is not None and stream.usage.prompt_tokens > 0


@pytest.mark.slow
def test_structured_output_finds_the_format_the_server_takes(llama_server: ServerProcess) -> None:
    backend = backend_for(openai_url(llama_server))
    messages = [{"role": "user", "content": "Acme Inc. signs with Blue River LLC. Who is the first party?"}]
    reply = backend.structured(messages, PARTY_SCHEMA, max_tokens=40)
    assert reply["party"] in ("Acme Inc.", "Blue River LLC")  # constrained by the schema
    # llama-cpp-python's server rejects OpenAI's `json_schema`; its own `json_object` + schema works.
    assert backend.structured_mode == "json_object"
    assert backend.structured(messages, PARTY_SCHEMA, max_tokens=40)["party"] in (
        "Acme Inc.",
        "Blue River LLC",
    )


@pytest.mark.slow
def test_prompt_longer_than_the_servers_window_is_context_overflow(llama_server: ServerProcess) -> None:
    backend = backend_for(openai_url(llama_server), num_ctx=100_000)  # Quire thinks it fits; the server knows
    long_question = [{"role": "user", "content": "clause " * 2200}]
    with pytest.raises(ContextOverflow, match="--n_ctx"):
        backend.complete(long_question, max_tokens=4)
    with pytest.raises(ContextOverflow):
        backend.structured(long_question, PARTY_SCHEMA, max_tokens=4)
    assert backend.complete(QUESTION, max_tokens=4).text.strip()  # the same backend goes on working


@pytest.mark.slow
def test_wrong_path_is_model_not_found_with_the_v1_hint(llama_server: ServerProcess) -> None:
    backend = backend_for(f"http://127.0.0.1:{llama_server.port}/api")
    with pytest.raises(ModelNotFound, match="ends in /v1"):
        backend.complete(QUESTION, max_tokens=4)


def test_prompt_over_num_ctx_is_refused_before_sending() -> None:
    backend = backend_for(f"http://127.0.0.1:{free_port()}/v1", num_ctx=512)
    with pytest.raises(ContextOverflow, match="QUIRE_LLM__NUM_CTX"):
        backend.complete([{"role": "user", "content": "clause " * 1000}], max_tokens=4)


def test_nothing_listening_says_how_to_start_a_server() -> None:
    backend = backend_for(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(BackendUnavailable, match="start the server"):
        backend.complete(QUESTION, max_tokens=4)
    with pytest.raises(BackendUnavailable, match="QUIRE_LLM__OPENAI_BASE_URL"):
        backend.structured(QUESTION, PARTY_SCHEMA, max_tokens=4)


@pytest.mark.parametrize(
    ("status", "detail", "error", "hint"),
    [
        (401, '{"error": "invalid api key"}', BackendUnavailable, "QUIRE_LLM__OPENAI_API_KEY"),
        (404, '{"error": "The model `x` does not exist."}', ModelNotFound, "QUIRE_LLM__MODEL"),
        (429, "Too many requests", BackendUnavailable, "QUIRE_LLM__ENDPOINTS"),
        (503, "Service Unavailable", BackendUnavailable, "try again later"),
        (400, '{"code": "context_length_exceeded"}', ContextOverflow, "--max-model-len"),
        (400, '{"error": "temperature must be >= 0"}', QuireError, "rejected the request"),
    ],
)
def test_http_errors_map_to_quire_errors(status: int, detail: str, error: type, hint: str) -> None:
    mapped = backend_for("http://127.0.0.1:9/v1")._error_for(status, detail)
    assert type(mapped) is error
    assert hint in str(mapped)
