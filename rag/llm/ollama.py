"""Ollama backend through the official client and the native `/api/chat` (never `/v1`).

`/api/chat` is the only Ollama endpoint that takes `options.num_ctx`; without it Ollama
runs with a 2K-4K window and silently drops the start of a long prompt. So every call
sends `num_ctx`, and the reply's `prompt_eval_count` is checked against what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import ollama

from rag.errors import BackendUnavailable, ContextOverflow, ModelNotFound
from rag.llm.base import ChatStream, LLMBackend, Message, Usage, parse_json_reply
from rag.tokens import llama3_token_count

# A prompt that comes back this much shorter than sent, while filling most of the window, was cut.
TRUNCATION_TOLERANCE = 0.9


class OllamaBackend(LLMBackend):
    name = "ollama"

    def __init__(
        self,
        host: str,
        model: str,
        num_ctx: int,
        keep_alive: str | int = "30m",
        temperature: float = 0.0,
        timeout_s: float = 300.0,
        token_counter: Callable[[str], int] = llama3_token_count,
    ):
        self.host = host.rstrip("/")
        self.model = model
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        self.temperature = temperature
        self._count = token_counter
        self._client = ollama.Client(host=self.host, timeout=timeout_s)

    # --- errors -----------------------------------------------------------------------------
    def _unavailable(self, error: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"Ollama is not answering at {self.host}: start it with `ollama serve` "
            f"(or set OLLAMA_HOST / QUIRE_LLM__OLLAMA_HOST). Detail: {error}"
        )

    def _translate(self, error: Exception) -> Exception:
        if isinstance(error, ollama.ResponseError):
            if error.status_code == 404 or "not found" in str(error.error).lower():
                return ModelNotFound(f"model {self.model} is missing: run `ollama pull {self.model}`")
            return BackendUnavailable(f"Ollama at {self.host} answered with an error: {error.error}")
        if isinstance(error, ConnectionError | httpx.HTTPError | OSError):
            return self._unavailable(error)
        return error

    # --- introspection ----------------------------------------------------------------------
    def installed_models(self) -> list[str]:
        try:
            listing = self._client.list()
        except Exception as error:  # noqa: BLE001 - every failure here means "not reachable"
            raise self._translate(error) from error
        return [m.model for m in listing.models if m.model]

    def has_model(self) -> bool:
        wanted = self.model if ":" in self.model else f"{self.model}:latest"
        return wanted in self.installed_models()

    # --- calls ------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def _options(self, max_tokens: int) -> dict[str, Any]:
        return {"num_ctx": self.num_ctx, "num_predict": max_tokens, "temperature": self.temperature}

    def _check_fits(self, messages: list[Message], max_tokens: int) -> int:
        prompt_tokens = self.count_messages(messages)
        if prompt_tokens + max_tokens > self.num_ctx:
            raise ContextOverflow(
                f"the prompt needs {prompt_tokens} tokens plus {max_tokens} for the reply, more than "
                f"num_ctx={self.num_ctx}: raise QUIRE_LLM__NUM_CTX (up to 131072) or ask about less text"
            )
        return prompt_tokens

    def check_not_truncated(self, sent_tokens: int, reported: int | None) -> None:
        """Raise when Ollama evaluated far fewer prompt tokens than were sent and the window was full.

        A prompt served from Ollama's KV cache also reports fewer tokens, but then the count is
        small; a cut prompt reports close to the whole window.
        """
        if reported is None or reported >= sent_tokens * TRUNCATION_TOLERANCE:
            return
        if reported >= self.num_ctx * 0.5:
            raise ContextOverflow(
                f"Ollama evaluated only {reported} of about {sent_tokens} prompt tokens: it cut the prompt "
                f"to fit its context window. Make sure the server honours num_ctx={self.num_ctx} "
                f"(OLLAMA_CONTEXT_LENGTH) or lower the amount of text."
            )

    def _chat(self, messages: list[Message], max_tokens: int, stream: bool, fmt: Any = None) -> Any:
        try:
            return self._client.chat(
                model=self.model,
                messages=messages,
                stream=stream,
                options=self._options(max_tokens),
                keep_alive=self.keep_alive,
                format=fmt,
            )
        except Exception as error:  # noqa: BLE001
            raise self._translate(error) from error

    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        sent = self._check_fits(messages, max_tokens)
        usage: dict[str, Usage] = {}

        def pieces() -> Iterator[str]:
            try:
                for part in self._chat(messages, max_tokens, stream=True):
                    if part.message and part.message.content:
                        yield part.message.content
                    if part.done:
                        self.check_not_truncated(sent, part.prompt_eval_count)
                        usage["u"] = Usage(part.prompt_eval_count or sent, part.eval_count or 0)
            except (ContextOverflow, ModelNotFound, BackendUnavailable):
                raise
            except Exception as error:  # noqa: BLE001 - the connection dropped mid-stream
                raise self._translate(error) from error

        return ChatStream(pieces(), lambda: usage.get("u"))

    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        sent = self._check_fits(messages, max_tokens)
        reply = self._chat(messages, max_tokens, stream=False, fmt=schema)
        self.check_not_truncated(sent, reply.prompt_eval_count)
        content = reply.message.content or ""
        try:
            return json.loads(content)
        except json.JSONDecodeError:
            return parse_json_reply(content)
