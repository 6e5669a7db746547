"""OpenAI-compatible backend (vLLM, llama.cpp server, LM Studio) over `/v1/chat/completions`.

Such servers fix their context window at start-up, so `num_ctx` here is what Quire plans
for, not something it can set; prompts that do not fit are refused before sending, and a
server that still finds the prompt too long is reported as `ContextOverflow`.

Structured output differs between servers: vLLM, LM Studio and llama.cpp's C++ server take
OpenAI's `json_schema` response format, llama-cpp-python's server only `json_object` with a
`schema`, and some take neither. The first structured call finds out which one works and
the backend keeps using it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from rag.errors import BackendUnavailable, ContextOverflow, ModelNotFound, QuireError
from rag.llm.base import ChatStream, LLMBackend, Message, Usage, parse_json_reply
from rag.tokens import llama3_token_count

# Tried in this order; the last one (schema in the prompt) works with any server.
STRUCTURED_MODES = ("json_schema", "json_object", "prompt")


class OpenAICompatBackend(LLMBackend):
    name = "openai"
    overflow_advice = (
        "ask about less text, or start the server with a larger window and raise QUIRE_LLM__NUM_CTX to match"
    )

    def __init__(
        self,
        base_url: str,
        model: str,
        num_ctx: int,
        api_key: str = "not-needed",
        temperature: float = 0.0,
        timeout_s: float = 300.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.num_ctx = num_ctx
        self.temperature = temperature
        self.timeout_s = timeout_s
        self.structured_mode: str | None = None  # learnt on the first structured call
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout_s, headers={"Authorization": f"Bearer {api_key}"}
        )

    def describe(self) -> str:
        return f"{self.name}:{self.model} at {self.base_url} (num_ctx {self.num_ctx})"

    def count_tokens(self, text: str) -> int:
        return llama3_token_count(text)

    def _body(self, messages: list[Message], max_tokens: int, **extra: Any) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            **extra,
        }

    # --- errors -----------------------------------------------------------------------------
    def _transport_error(self, error: httpx.HTTPError) -> BackendUnavailable:
        if isinstance(error, httpx.ConnectError):
            hint = (
                "start the server (`vllm serve MODEL`, `python -m llama_cpp.server --model FILE.gguf`) "
                "or fix QUIRE_LLM__OPENAI_BASE_URL"
            )
        elif isinstance(error, httpx.TimeoutException):
            hint = f"it took longer than {self.timeout_s:g} s: raise QUIRE_LLM__TIMEOUT_S or lighten its load"
        else:
            hint = "the connection broke: check that the server is still running"
        return BackendUnavailable(f"no answer from {self.base_url}: {hint} ({type(error).__name__}: {error})")

    def _error_for(self, status: int, detail: str) -> QuireError:
        """The project's error for an HTTP error status, with what to do about it."""
        lowered = detail.lower()
        if "context_length_exceeded" in lowered or "maximum context length" in lowered:
            return ContextOverflow(
                f"{self.base_url} says the prompt is longer than its context window: start it with a "
                "larger one (vLLM --max-model-len, llama.cpp --n_ctx) or lower QUIRE_LLM__NUM_CTX to match "
                f"({detail})"
            )
        if status in (401, 403):
            return BackendUnavailable(
                f"{self.base_url} refused the API key ({status}): set QUIRE_LLM__OPENAI_API_KEY ({detail})"
            )
        if status == 404:
            return ModelNotFound(
                f"{self.base_url} does not serve model {self.model!r}: check QUIRE_LLM__MODEL against its "
                f"/v1/models, and that QUIRE_LLM__OPENAI_BASE_URL ends in /v1 ({detail})"
            )
        if status == 429 or status >= 500:
            return BackendUnavailable(
                f"{self.base_url} answered {status}: it is failing or overloaded; try again later or add "
                f"endpoints (QUIRE_LLM__ENDPOINTS) ({detail})"
            )
        return QuireError(f"{self.base_url} rejected the request ({status}): {detail}")

    @staticmethod
    def _detail(response: httpx.Response) -> str:
        response.read()
        return response.text[:300]

    # --- calls ------------------------------------------------------------------------------
    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        self.check_fits(messages, max_tokens)
        usage: dict[str, Usage] = {}
        body = self._body(messages, max_tokens, stream=True, stream_options={"include_usage": True})

        def pieces() -> Iterator[str]:
            produced: list[str] = []
            try:
                with self._http.stream("POST", "/chat/completions", json=body) as response:
                    if response.status_code >= 400:
                        raise self._error_for(response.status_code, self._detail(response))
                    for event in _events(response.iter_lines()):
                        if event.get("error"):
                            raise self._error_for(500, json.dumps(event["error"])[:300])
                        if event.get("usage"):
                            u = event["usage"]
                            usage["u"] = Usage(u.get("prompt_tokens", 0), u.get("completion_tokens", 0))
                        for choice in event.get("choices") or []:
                            delta = (choice.get("delta") or {}).get("content")
                            if delta:
                                produced.append(delta)
                                yield delta
            except httpx.HTTPError as error:
                raise self._transport_error(error) from error
            except _StreamCut:
                if produced:
                    raise BackendUnavailable(
                        f"{self.base_url} stopped in the middle of the reply: check the server's log"
                    ) from None
                # llama-cpp-python's server answers a request it cannot serve (a prompt over its window)
                # with an empty 200 stream; the same request unstreamed returns the real error.
                text, usage["u"] = self._unstreamed(messages, max_tokens)
                if text:
                    yield text
                return
            if "u" not in usage:  # llama-cpp-python's server sends no usage when streaming
                usage["u"] = Usage(self.count_messages(messages), self.count_tokens("".join(produced)))

        return ChatStream(pieces(), lambda: usage.get("u"))

    def _post(self, body: dict[str, Any], client: httpx.Client | None = None) -> httpx.Response:
        try:
            return (client or self._http).post("/chat/completions", json=body)
        except httpx.HTTPError as error:
            raise self._transport_error(error) from error

    def _unstreamed(self, messages: list[Message], max_tokens: int) -> tuple[str, Usage]:
        """The reply without streaming, on a new connection (the server may drop the one it cut)."""
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s, headers=self._http.headers) as fresh:
            response = self._post(self._body(messages, max_tokens), fresh)
            response.read()
        if response.status_code >= 400:
            raise self._error_for(response.status_code, self._detail(response))
        text = _reply_text(response)
        u = response.json().get("usage") or {}
        prompt = u.get("prompt_tokens") or self.count_messages(messages)
        return text, Usage(prompt, u.get("completion_tokens") or self.count_tokens(text))

    def _structured_request(
        self, mode: str, messages: list[Message], schema: dict[str, Any], max_tokens: int
    ) -> dict[str, Any]:
        if mode == "json_schema":
            fmt: dict[str, Any] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
            return self._body(messages, max_tokens, response_format=fmt)
        if mode == "json_object":
            return self._body(messages, max_tokens, response_format={"type": "json_object", "schema": schema})
        instruction = {
            "role": "system",
            "content": "Reply with one JSON object only, matching this JSON schema:\n" + json.dumps(schema),
        }
        return self._body([*messages, instruction], max_tokens)

    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        self.check_fits(messages, max_tokens)
        modes = (self.structured_mode,) if self.structured_mode else STRUCTURED_MODES
        for mode in modes:
            response = self._post(self._structured_request(mode, messages, schema, max_tokens))
            if response.status_code < 400:
                self.structured_mode = mode
                return parse_json_reply(_reply_text(response))
            detail = self._detail(response)
            if not _rejects_response_format(response.status_code, detail):
                raise self._error_for(response.status_code, detail)
        raise self._error_for(response.status_code, detail)


class _StreamCut(Exception):
    """The event stream closed before `data: [DONE]`."""


def _reply_text(response: httpx.Response) -> str:
    return response.json()["choices"][0]["message"]["content"] or ""


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent-events stream; `_StreamCut` if it ends before `[DONE]`."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            yield json.loads(payload)
        except json.JSONDecodeError as error:
            raise BackendUnavailable(f"the server sent a malformed stream event: {payload[:200]!r}") from error
    raise _StreamCut


def _rejects_response_format(status: int, detail: str) -> bool:
    """A server that does not know this kind of `response_format` (so the next kind may work)."""
    return status in (400, 422, 500) and ("response_format" in detail or "json_schema" in detail)
