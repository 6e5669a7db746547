"""The context plan: whole documents when they fit, else the retrieved passages that fit, with
prompt + reserved reply <= num_ctx, and a line saying what the model saw."""

from __future__ import annotations

import pytest

from rag.answer.budget import fit_passages, plan_context
from rag.errors import ContextOverflow
from rag.prompts import answer_messages
from rag.types import Passage
from tests.test_summarize import ScriptedBackend


def pages(name: str, count: int, chars: int = 400) -> list[Passage]:
    return [Passage(name, name, n, n, 0, chars, f"Clause {n}. " + "w" * chars, 1.0) for n in range(1, count + 1)]


def build(passages):
    return answer_messages("Which law governs?", passages)


def test_whole_document_when_it_fits() -> None:
    backend = ScriptedBackend("", num_ctx=131072)
    plan = plan_context(backend, pages("a.pdf", 42), lambda budget: [], build, reserve_output=512)
    assert plan.mode == "whole-document" and plan.in_view == "all 42 pages of a.pdf"
    assert plan.prompt_tokens + 512 <= plan.num_ctx == 131072
    both = plan_context(backend, pages("a.pdf", 3) + pages("b.pdf", 2), lambda budget: [], build, 512)
    assert both.in_view == "all 5 pages of 2 documents"


def test_retrieved_passages_when_the_document_does_not_fit() -> None:
    backend = ScriptedBackend("", num_ctx=2048)
    ranked = [pages("a.pdf", 40)[(i * 7) % 40] for i in range(30)]  # rank order, not page order
    asked: list[int] = []

    def retrieved(budget_chars: int) -> list[Passage]:
        asked.append(budget_chars)
        return ranked

    plan = plan_context(backend, pages("a.pdf", 40), retrieved, build, reserve_output=512)
    assert plan.mode == "retrieved" and asked and plan.prompt_tokens + 512 <= 2048
    assert list(plan.passages) == ranked[: len(plan.passages)] and 0 < len(plan.passages) < len(ranked)
    first, last = min(p.page_start for p in plan.passages), max(p.page_end for p in plan.passages)
    assert plan.in_view == f"{len(plan.passages)} passages from pages {first}-{last} of a.pdf"


def test_fit_is_the_longest_prefix() -> None:
    backend = ScriptedBackend("", num_ctx=1000)
    passages = pages("a.pdf", 30)
    kept, tokens = fit_passages(backend, passages, build, reserve_output=100)
    assert tokens <= 900 < backend.count_messages(build(passages[: len(kept) + 1]))
    assert fit_passages(backend, passages[:1], build, 100)[0] == passages[:1]


def test_kv_cache_estimate_matches_the_readme_table() -> None:
    from rag.tokens import kv_cache_gib

    assert kv_cache_gib(131072) == 16.0 and kv_cache_gib(131072, bytes_per=1) == 8.0
    assert kv_cache_gib(8192) == 1.0


def test_document_block_is_a_byte_identical_prefix_across_tasks() -> None:
    from rag.prompts import sources_block, sources_first_messages

    document = pages("a.pdf", 5)
    chats = [
        build(document),
        answer_messages("Who may terminate?", document),
        sources_first_messages(document, "Sum up."),
    ]
    prefix = chats[0][0]["content"] + sources_block(document)
    for chat in chats:
        assert chat[0]["content"] + chat[1]["content"][: len(sources_block(document))] == prefix


def test_a_prompt_that_does_not_fit_is_refused_before_it_is_sent() -> None:
    """Every backend checks the window the same way (servers cut an overlong prompt silently)."""
    backend = ScriptedBackend("", num_ctx=1000)
    messages = build(pages("a.pdf", 1))
    prompt_tokens = backend.check_fits(messages, max_tokens=100)
    assert prompt_tokens == backend.count_messages(messages) < 900
    with pytest.raises(ContextOverflow, match=rf"needs {prompt_tokens} tokens plus 1000.*ask about less text"):
        backend.check_fits(messages, max_tokens=1000)
