"""Ollama backend through the official client and the native `/api/chat` (never `/v1`).

`/api/chat` is the only Ollama endpoint that takes `options.num_ctx`; without it Ollama
runs with a 2K-4K window and silently drops the start of a long prompt. So every call
sends `num_ctx`, and the reply's `prompt_eval_count` is checked against what was sent.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import ollama

from rag.errors import BackendUnavailable, ContextOverflow, ModelNotFound
from rag.llm.base import ChatStream, LLMBackend, Message, Usage, parse_json_reply
from rag.tokens import LLAMA3_TEMPLATE, ChatTemplateCost, chat_token_count, llama3_token_count

# Quire counts with the Llama-3 tokenizer; another model's tokenizer may count a few percent
# fewer tokens for the same text, so a shortfall within this margin is not even questioned.
TRUNCATION_TOLERANCE = 0.9
TRUNCATION_SLACK_TOKENS = 8
RECENT_PROMPTS = 8  # Ollama keeps one cache per parallel slot (OLLAMA_NUM_PARALLEL)


class RecentPrompts:
    """The last chats sent to one model, to tell a KV-cache hit from a cut prompt."""

    def __init__(self, size: int = RECENT_PROMPTS):
        self._chats: deque[tuple[Message, ...]] = deque(maxlen=size)

    def remember(self, messages: list[Message]) -> None:
        self._chats.append(tuple(dict(m) for m in messages))

    def shared_prefix_tokens(
        self, messages: list[Message], count: Callable[[str], int], template: ChatTemplateCost
    ) -> int:
        """The most prompt tokens the server may have cached from a recent chat with the same start."""
        return max((_common_prefix_tokens(messages, old, count, template) for old in self._chats), default=0)


def _common_prefix_tokens(
    new: list[Message], old: tuple[Message, ...], count: Callable[[str], int], template: ChatTemplateCost
) -> int:
    tokens = 1  # begin-of-text
    for a, b in zip(new, old, strict=False):
        if a["role"] != b["role"]:
            break
        if a["content"] != b["content"]:
            return tokens + count(os.path.commonprefix([a["content"], b["content"]]))
        tokens += count(a["content"]) + template.per_message
    return tokens


def _same_model(a: str, b: str) -> bool:
    """Ollama names without a tag mean `:latest`."""
    return (a if ":" in a else f"{a}:latest") == (b if ":" in b else f"{b}:latest")


class OllamaBackend(LLMBackend):
    name = "ollama"
    overflow_advice = "raise QUIRE_LLM__NUM_CTX (up to 131072) or ask about less text"

    def __init__(
        self,
        host: str,
        model: str,
        num_ctx: int,
        keep_alive: str | int = "30m",
        temperature: float = 0.0,
        timeout_s: float = 300.0,
        token_counter: Callable[[str], int] = llama3_token_count,
        template: ChatTemplateCost = LLAMA3_TEMPLATE,
    ):
        self.host = host.rstrip("/")
        self.model = model
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        self.temperature = temperature
        self._count = token_counter
        self._template = template
        self._recent = RecentPrompts()
        self.timeout_s = timeout_s
        self._client = ollama.Client(host=self.host, timeout=timeout_s)

    # --- errors -----------------------------------------------------------------------------
    def _unavailable(self, error: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"Ollama is not answering at {self.host}: start it with `ollama serve` "
            f"(or set OLLAMA_HOST / QUIRE_LLM__OLLAMA_HOST). Detail: {error}"
        )

    def _translate(self, error: Exception) -> Exception:
        """Quire's error for what went wrong, each with what to do: a missing model, a failing
        runner, a slow server and a connection cut in the middle of an answer all need a
        different remedy, so none of them is reported as "not answering"."""
        if isinstance(error, ollama.ResponseError):
            if error.status_code == 404 or "not found" in str(error.error).lower():
                return ModelNotFound(
                    f"model {self.model} is missing from Ollama at {self.host}: run: ollama pull {self.model}"
                )
            status = f" ({error.status_code})" if error.status_code > 0 else ""
            return BackendUnavailable(
                f"Ollama at {self.host} failed{status}: {error.error}. Look at Ollama's log (`journalctl -u "
                "ollama`, or the terminal running `ollama serve`), restart it if the model runner crashed "
                "(often out of memory: a smaller QUIRE_LLM__NUM_CTX helps), then try again"
            )
        if isinstance(error, httpx.TimeoutException):
            return BackendUnavailable(
                f"Ollama at {self.host} sent nothing for {self.timeout_s:g} s: it is overloaded or still loading "
                f"{self.model}; try again later, or raise QUIRE_LLM__TIMEOUT_S ({type(error).__name__})"
            )
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
            return BackendUnavailable(
                f"Ollama at {self.host} closed the connection before finishing ({error}): any answer so far is "
                "incomplete. It was probably stopped or crashed: check that it runs (`ollama serve`) and ask again"
            )
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
        return any(_same_model(name, self.model) for name in self.installed_models())

    # --- calls ------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def _options(self, max_tokens: int) -> dict[str, Any]:
        return {"num_ctx": self.num_ctx, "num_predict": max_tokens, "temperature": self.temperature}

    def count_messages(self, messages: list[Message]) -> int:
        return chat_token_count(messages, self._count, self._template)

    def loaded_context_length(self) -> int | None:
        """The window Ollama really loaded this model with (`/api/ps`, Ollama >= 0.9.x), if it says."""
        try:
            running = self._client.ps()
        except Exception:  # noqa: BLE001 - an old or odd server: no evidence
            return None
        for entry in running.models:
            if _same_model(entry.model or entry.name or "", self.model):
                return entry.context_length or None
        return None

    def check_not_truncated(self, messages: list[Message], sent_tokens: int, reported: int | None) -> None:
        """Raise when Ollama cut the prompt, telling a cut from a KV-cache hit.

        `prompt_eval_count` counts only the tokens Ollama evaluated: a prefix reused from its
        KV cache is not counted (old versions even omit the field), so a short count alone proves
        nothing. Ollama cuts a prompt only when it is longer than the runner's window, and
        `/api/ps` reports that window: when it holds the whole prompt, the shortfall was the cache.
        Servers too old to report it are judged by the prefix shared with chats this backend sent
        recently (the only cache it can know about).
        """
        reusable = self._recent.shared_prefix_tokens(messages, self._count, self._template)
        if not reported or reported >= sent_tokens * TRUNCATION_TOLERANCE - TRUNCATION_SLACK_TOKENS:
            self._recent.remember(messages)
            return
        window = self.loaded_context_length()
        if window is not None:
            cut = window < sent_tokens * TRUNCATION_TOLERANCE
        else:
            cut = reported < (sent_tokens - reusable) * TRUNCATION_TOLERANCE - TRUNCATION_SLACK_TOKENS
        if not cut:
            self._recent.remember(messages)
            return
        seen = f"a {window}-token window" if window else "a smaller window than asked"
        raise ContextOverflow(
            f"Ollama evaluated only {reported} of about {sent_tokens} prompt tokens: it runs {self.model} "
            f"with {seen} and cut the prompt, so an answer would rest on part of the text. Quire sent "
            f"num_ctx={self.num_ctx}: make sure nothing between Quire and Ollama drops `options.num_ctx` "
            "(a proxy, an old Ollama), or set QUIRE_LLM__NUM_CTX to the window the server really has."
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
        sent = self.check_fits(messages, max_tokens)
        usage: dict[str, Usage] = {}

        def pieces() -> Iterator[str]:
            try:
                for part in self._chat(messages, max_tokens, stream=True):
                    if part.message and part.message.content:
                        yield part.message.content
                    if part.done:
                        self.check_not_truncated(messages, sent, part.prompt_eval_count)
                        reported = part.prompt_eval_count
                        usage["u"] = Usage(max(sent, reported or 0), part.eval_count or 0, reported)
            except (ContextOverflow, ModelNotFound, BackendUnavailable):
                raise
            except Exception as error:  # noqa: BLE001 - the connection dropped mid-stream
                raise self._translate(error) from error

        return ChatStream(pieces(), lambda: usage.get("u"))

    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        sent = self.check_fits(messages, max_tokens)
        reply = self._chat(messages, max_tokens, stream=False, fmt=schema)
        self.check_not_truncated(messages, sent, reply.prompt_eval_count)
        return parse_json_reply(reply.message.content or "")
