"""The one seam every LLM backend implements: stream a chat, complete, structured output, count tokens.

Callers (answer, summarize, clauses, batch) see only this protocol, so a real Ollama, the
embedded llama.cpp model or an OpenAI-compatible server can answer without them knowing.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rag.errors import ContextOverflow
from rag.llm.degenerate import without_repeats
from rag.llm.loops import without_loop
from rag.types import Message


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int  # the whole prompt the model saw
    completion_tokens: int
    evaluated_tokens: int | None = None  # what the server evaluated; less when it reused its KV cache


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage


class ChatStream:
    """An iterator of text pieces; `usage` is filled in once the stream is exhausted."""

    def __init__(self, pieces: Iterator[str], usage_of: Callable[[], Usage | None]):
        self._pieces = pieces
        self._usage_of = usage_of
        self.usage: Usage | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces
        self.usage = self._usage_of()

    def text(self) -> str:
        return "".join(self)


class LLMBackend(ABC):
    """A chat model Quire can talk to. Subclasses map their library's errors to `rag.errors`."""

    name: str = "base"
    model: str = ""
    num_ctx: int = 0
    is_demo: bool = False
    overflow_advice: str = "ask about less text"  # what to do when a prompt does not fit this backend's window

    @abstractmethod
    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        """Stream the reply to `messages`, at most `max_tokens` long."""

    @abstractmethod
    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        """Reply as JSON matching `schema` (constrained decoding where the backend has it)."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes with this backend's tokenizer."""

    def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """The whole reply, a looping tail cut back to one copy (see `rag.llm.loops`) and every repeated
        sentence dropped after its first copy (`rag.llm.degenerate`)."""
        stream = self.stream_chat(messages, max_tokens=max_tokens)
        text = without_repeats(without_loop(stream.text()))
        return Completion(text=text, usage=stream.usage or Usage(self.count_messages(messages), 0))

    def count_messages(self, messages: list[Message]) -> int:
        """Prompt tokens of a chat, with a small allowance per message for the chat template."""
        return sum(self.count_tokens(m["content"]) + 6 for m in messages) + 4

    def check_fits(self, messages: list[Message], max_tokens: int) -> int:
        """The prompt's tokens; `ContextOverflow` before anything is sent when the prompt and the
        longest reply asked for do not fit the window (a server would cut the prompt silently)."""
        prompt_tokens = self.count_messages(messages)
        if prompt_tokens + max_tokens > self.num_ctx:
            raise ContextOverflow(
                f"the prompt needs {prompt_tokens} tokens plus {max_tokens} for the reply, more than "
                f"{self.model}'s {self.num_ctx}-token window (num_ctx): {self.overflow_advice}"
            )
        return prompt_tokens

    def describe(self) -> str:
        return f"{self.name}:{self.model} (num_ctx {self.num_ctx})"


def parse_json_reply(text: str) -> dict[str, Any]:
    """The first JSON object in a model reply (models sometimes wrap it in prose or fences, and put a raw
    line break or tab inside a string: `strict=False` reads those as the characters they are)."""
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the reply")
    value = json.loads(text[start : end + 1], strict=False)
    if not isinstance(value, dict):
        raise ValueError("the reply's JSON is not an object")
    return value
