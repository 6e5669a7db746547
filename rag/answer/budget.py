"""The context plan: what the model sees for a question, proven to fit its window.

Whole documents when they fit (the model then sees every page), else retrieved passages cut
to what fits. Never a silent truncation: the plan says what was in view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.llm.base import LLMBackend, Message
from rag.types import Passage

CHARS_PER_TOKEN_GUESS = 3  # first guess only; every plan is checked with the real tokenizer


@dataclass(frozen=True)
class ContextPlan:
    mode: Literal["retrieved", "whole-document"]
    passages: tuple[Passage, ...]
    prompt_tokens: int
    num_ctx: int

    @property
    def in_view(self) -> str:
        if not self.passages:
            return "no passages"
        pages = sorted({p for x in self.passages for p in range(x.page_start, x.page_end + 1)})
        names = sorted({x.name for x in self.passages})
        where = f"{len(names)} documents" if len(names) > 1 else names[0]
        if self.mode == "whole-document" and len(names) > 1:
            return f"all {len(self.passages)} pages of {where}"
        if self.mode == "whole-document":
            return f"all {len(pages)} pages of {where}"
        span = f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}-{pages[-1]}"
        return f"{len(self.passages)} passages from {span} of {where}"


def available_prompt_tokens(backend: LLMBackend, reserve_output: int) -> int:
    return backend.num_ctx - reserve_output


def fit_passages(
    backend: LLMBackend,
    passages: Sequence[Passage],
    build: Callable[[Sequence[Passage]], list[Message]],
    reserve_output: int,
) -> tuple[list[Passage], int]:
    """The longest rank-order prefix of `passages` whose prompt fits the window, and its token count.

    A binary search over the prefix length: at 131072 tokens a prompt is counted a handful of
    times instead of once per dropped passage.
    """
    limit = available_prompt_tokens(backend, reserve_output)
    low, high = 0, len(passages)  # the prefix of length `low` fits (or is empty)
    tokens = backend.count_messages(build(passages[:high]))
    if tokens <= limit:
        return list(passages), tokens
    while high - low > 1:
        middle = (low + high) // 2
        if backend.count_messages(build(passages[:middle])) <= limit:
            low = middle
        else:
            high = middle
    kept = list(passages[:low])
    return kept, backend.count_messages(build(kept))


def plan_context(
    backend: LLMBackend,
    whole_document: Sequence[Passage] | None,
    retrieved: Callable[[int], list[Passage]],
    build: Callable[[Sequence[Passage]], list[Message]],
    reserve_output: int,
) -> ContextPlan:
    """Whole documents when given and they fit; otherwise retrieved passages that fit."""
    limit = available_prompt_tokens(backend, reserve_output)
    if whole_document:
        tokens = backend.count_messages(build(whole_document))
        if tokens <= limit:
            return ContextPlan("whole-document", tuple(whole_document), tokens, backend.num_ctx)
    budget_chars = max(limit, 0) * CHARS_PER_TOKEN_GUESS
    kept, tokens = fit_passages(backend, retrieved(budget_chars), build, reserve_output)
    return ContextPlan("retrieved", tuple(kept), tokens, backend.num_ctx)
