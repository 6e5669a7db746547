"""OpenAI-compatible backend (vLLM, llama.cpp server, LM Studio) over `/v1/chat/completions`.

Such servers fix their context window at start-up, so `num_ctx` here is what Quire plans
for, not something it can set; prompts that do not fit are refused before sending.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from rag.errors import BackendUnavailable, ContextOverflow, ModelNotFound
from rag.llm.base import ChatStream, LLMBackend, Message, Usage, parse_json_reply
from rag.tokens import llama3_token_count


class OpenAICompatBackend(LLMBackend):
    name = "openai"

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
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout_s, headers={"Authorization": f"Bearer {api_key}"}
        )

    def count_tokens(self, text: str) -> int:
        return llama3_token_count(text)

    def _check_fits(self, messages: list[Message], max_tokens: int) -> None:
        needed = self.count_messages(messages) + max_tokens
        if needed > self.num_ctx:
            raise ContextOverflow(f"the prompt and reply need {needed} tokens, more than num_ctx={self.num_ctx}")

    def _body(self, messages: list[Message], max_tokens: int, **extra: Any) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            **extra,
        }

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code == 404:
            raise ModelNotFound(f"{self.base_url} does not serve model {self.model}: check QUIRE_LLM__MODEL")
        if response.status_code >= 400:
            response.read()
            raise BackendUnavailable(f"{self.base_url} answered {response.status_code}: {response.text[:300]}")

    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        self._check_fits(messages, max_tokens)
        usage: dict[str, Usage] = {}
        body = self._body(messages, max_tokens, stream=True, stream_options={"include_usage": True})

        def pieces() -> Iterator[str]:
            try:
                with self._http.stream("POST", "/chat/completions", json=body) as response:
                    self._raise_for(response)
                    for line in response.iter_lines():
                        if not line.startswith("data:") or line.strip() == "data: [DONE]":
                            continue
                        event = json.loads(line[5:])
                        if event.get("usage"):
                            u = event["usage"]
                            usage["u"] = Usage(u.get("prompt_tokens", 0), u.get("completion_tokens", 0))
                        for choice in event.get("choices") or []:
                            delta = (choice.get("delta") or {}).get("content")
                            if delta:
                                yield delta
            except httpx.HTTPError as error:
                raise BackendUnavailable(f"no answer from {self.base_url}: is the server running? ({error})") from error

        return ChatStream(pieces(), lambda: usage.get("u"))

    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        self._check_fits(messages, max_tokens)
        response_format = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        try:
            response = self._http.post(
                "/chat/completions", json=self._body(messages, max_tokens, response_format=response_format)
            )
        except httpx.HTTPError as error:
            raise BackendUnavailable(f"no answer from {self.base_url}: is the server running? ({error})") from error
        self._raise_for(response)
        return parse_json_reply(response.json()["choices"][0]["message"]["content"] or "")
