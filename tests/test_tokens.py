"""Token counts: quicktok against known Llama-3 token ids, the chat-template overhead against a
rendered Llama-3 chat, and the llama.cpp backend counting with the GGUF's own template."""

from __future__ import annotations

import pytest

from rag.errors import ContextOverflow
from rag.tokens import (
    LLAMA3_TEMPLATE,
    chat_token_count,
    llama3_encoding,
    llama3_token_count,
    render_llama3_chat,
)

SOURCES = "<sources>\n[1] msa.pdf, page 3\nThis Agreement is governed by New York law.\n</sources>"
MESSAGES = [
    {"role": "system", "content": "You are Quire, a careful assistant for contracts."},
    {"role": "user", "content": f"{SOURCES}\n\nQuestion: Which law governs?"},
]


def test_quicktok_matches_known_llama3_ids() -> None:
    encoding = llama3_encoding()
    assert encoding.n_vocab == 128256  # Llama-3's vocabulary, not cl100k's 100k
    assert encoding.encode("Hello world") == [9906, 1917]
    assert encoding.encode("The quick brown fox jumps over the lazy dog") == [
        791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679,
    ]  # fmt: skip
    # Llama-3's special tokens and its digit grouping (at most three digits a token)
    header = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    assert encoding.encode(header, allowed_special="all") == [128000, 128006, 882, 128007, 271, 13347, 128009]
    assert [encoding.decode([t]) for t in encoding.encode("12345")] == ["123", "45"]
    assert llama3_token_count("") == 0


def test_template_overhead_matches_a_rendered_llama3_chat() -> None:
    rendered = llama3_encoding().encode(render_llama3_chat(MESSAGES), allowed_special="all")
    assert chat_token_count(MESSAGES, llama3_token_count, LLAMA3_TEMPLATE) == len(rendered)


@pytest.mark.slow
def test_llamacpp_counts_with_the_gguf_template_and_refuses_beyond_n_ctx() -> None:
    from rag.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(None, num_ctx=512, threads=2)
    counted = backend.count_messages(MESSAGES)
    list(backend.stream_chat(MESSAGES, max_tokens=2))
    assert list(backend.llama._input_ids[:counted]) == backend.prompt_tokens(MESSAGES)  # what it evaluated
    long = [{"role": "user", "content": "The Supplier shall deliver the goods. " * 80}]
    assert backend.count_messages(long) > 512
    with pytest.raises(ContextOverflow, match="512-token window"):
        list(backend.stream_chat(long, max_tokens=8))
    with pytest.raises(ContextOverflow):
        backend.structured(long, {"type": "object"}, max_tokens=8)
