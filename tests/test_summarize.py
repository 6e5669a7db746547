"""Summaries: the whole document when it fits, map-reduce over section groups when it does not
(with full coverage either way), and no phrase shown as a quote unless the document has it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.llm.base import ChatStream, LLMBackend, Message, Usage
from rag.service import Quire
from rag.settings import Settings
from rag.summaries.summarize import Summarizer, group_passages, parse_items, section_groups, shown_quote
from rag.summaries.summary import page_ranges
from rag.types import Passage
from tests.conftest import CONTRACT_TEXT, make_pdf, run_cli

SHOWN_QUOTE = re.compile("\u201c([^\u201d]+)\u201d")


class ScriptedBackend(LLMBackend):
    """A fake model for the orchestration unit tests: replies with fixed text, counts ~4 chars a token."""

    name = "scripted"
    model = "scripted"

    def __init__(self, reply: str, num_ctx: int):
        self.reply = reply
        self.num_ctx = num_ctx
        self.prompts: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        assert self.count_messages(messages) + max_tokens <= self.num_ctx
        self.prompts.append(messages)
        return ChatStream(iter([self.reply]), lambda: Usage(self.count_messages(messages), 1))

    def structured(self, messages, schema, *, max_tokens):  # pragma: no cover - not used here
        raise NotImplementedError


def long_contract_pages(pages: int) -> list[str]:
    clauses = CONTRACT_TEXT.split("\n\n")
    return [f"ARTICLE {n}. PART {n}\n\n" + "\n\n".join(clauses[1:]) for n in range(1, pages + 1)]


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[Quire]:
    settings = Settings(data_dir=tmp_path / "data", llm={"backend": "llamacpp", "ollama_host": "http://127.0.0.1:9"})
    quire = Quire(settings)
    pdf = make_pdf(tmp_path / "long.pdf", long_contract_pages(4))
    quire.ingest([pdf])
    yield quire


def test_page_ranges_and_parsing() -> None:
    assert page_ranges([3, 1, 2, 7, 9, 10]) == "pages 1-3, 7, 9-10"
    assert page_ranges([4]) == "page 4"
    headline, items = parse_items("**Headline:** A supply deal.\n- Parties: Acme and Blue\nnoise\nPAYMENT: 30 days")
    assert headline == "A supply deal." and items == {"Parties": "Acme and Blue", "Payment": "30 days"}
    assert parse_items("Just prose.")[0] == "Just prose."
    echoed = parse_items("Headline: <one or two sentences on what the contract is>\nParties: <...>\nDates: 2020")
    assert echoed == ("The model gave no headline.", {"Dates": "2020"})


def test_quotes_are_shown_on_one_line() -> None:
    """A page's line break inside a quote would end the Markdown list item of its key term."""
    shown = shown_quote("Stallings Capital Group \nConsultants, Ltd.\n# 2.  Term", 1)
    assert shown == "\u201cStallings Capital Group Consultants, Ltd. # 2. Term\u201d (p. 1)"


def test_groups_keep_order_and_fit() -> None:
    passages = [Passage("d", "n", i, i, 0, 0, "x" * 40, 1.0) for i in range(1, 8)]
    groups = group_passages(passages, lambda ps: len(ps) <= 3)
    assert [[p.page_start for p in g] for g in groups] == [[1, 2, 3], [4, 5, 6], [7]]
    texts = ["ARTICLE 1. A\nx", "y", "ARTICLE 2. B\nz", "w", "ARTICLE 3. C\nv"]
    units = [Passage("d", "n", i, i, 0, 0, t, 1.0) for i, t in enumerate(texts, start=1)]
    sections = section_groups(units, lambda ps: len(ps) <= 3)  # whole sections, never 1.1-2.1 + 2.2
    assert [[p.page_start for p in g] for g in sections] == [[1, 2], [3, 4, 5]]


@pytest.mark.slow
def test_only_verified_phrases_are_shown_as_quotes(stored: Quire) -> None:
    reply = (
        'Headline: A services agreement "governed by and construed in accordance with the laws of the '
        'State of New York".\nParties: Acme and "Blue River Logistics LLC"\n'
        'Liability: "capped at one million dollars in all cases"'
    )
    doc_id = stored.documents()[0].doc_id
    summary = Summarizer(ScriptedBackend(reply, 8192), stored.store.registry, stored.settings.summarize).summarize(
        doc_id
    )
    text = stored.store.registry.text(doc_id)
    shown = SHOWN_QUOTE.findall(summary.markdown)
    assert "Blue River Logistics LLC" in shown and len(summary.quotes) >= 2
    assert all(text[q.start : q.end].lower() == q.text.lower() for q in summary.quotes)
    assert "capped at one million dollars in all cases" in summary.markdown  # kept, but not as a quote
    assert "capped at one million dollars in all cases" not in shown
    assert dict(summary.key_terms)["Termination"].startswith("not stated")
    # the model gave no dates: the rule-based extractor's date, verbatim with its page, fills the gap
    dates = dict(summary.key_terms)["Dates"]
    assert dates.startswith("\u201cJanuary 5, 2021\u201d (p. 1)") and "rule-based" in dates
    assert any(q.text == "January 5, 2021" for q in summary.quotes)
    assert not any(q.text == "Acme Widgets Inc." for q in summary.quotes)  # the model gave parties: no rule quote


@pytest.mark.slow
def test_map_reduce_when_the_document_does_not_fit(stored: Quire) -> None:
    reply = "Headline: notes\nParties: Acme"
    backend = ScriptedBackend(reply, 1024)
    settings = stored.settings.summarize.model_copy(update={"reply_tokens": 128, "map_reply_tokens": 64})
    summary = Summarizer(backend, stored.store.registry, settings).summarize(stored.documents()[0].doc_id)
    assert summary.mode == "map-reduce" and summary.calls == len(backend.prompts) >= 3
    assert summary.coverage.complete and summary.coverage.pages == (1, 2, 3, 4)
    assert "all 4 pages (pages 1-4)" in summary.markdown and "ARTICLE 4. PART 4" in summary.coverage.sections
    # the document block always comes first, after the shared system prompt
    assert all(p[1]["content"].startswith("<sources>") for p in backend.prompts)


@pytest.mark.slow
def test_summarize_with_the_embedded_model_stuffed_then_map_reduce(stored: Quire, tmp_path: Path) -> None:
    sheet = stored.summarize("long.pdf")  # the demo model writes no prose by default: the key-term sheet
    assert sheet.mode == "key-terms" and sheet.calls == 0 and sheet.coverage.complete
    assert "not written by a language model" in sheet.markdown
    prose = stored.settings.summarize.model_copy(update={"engine": "model"})
    summary = Quire(stored.settings.model_copy(update={"summarize": prose})).summarize("long.pdf")
    assert summary.mode == "whole-document" and summary.coverage.complete and summary.calls == 1
    assert summary.markdown.startswith("# long.pdf") and "## Key terms" in summary.markdown
    assert all(q.text for q in summary.quotes) and json.loads(json.dumps(summary.to_json()))["mode"] == summary.mode

    out = tmp_path / "summary.md"
    small = {"QUIRE_LLM__BACKEND": "llamacpp", "QUIRE_LLM__NUM_CTX": "1024",
             "QUIRE_SUMMARIZE__REPLY_TOKENS": "96", "QUIRE_SUMMARIZE__MAP_REPLY_TOKENS": "48",
             "QUIRE_SUMMARIZE__ENGINE": "model"}  # fmt: skip
    done = run_cli("summarize", "long.pdf", "--json", "--out", str(out), data_dir=stored.settings.data_dir, env=small)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "map-reduce" and result["coverage"]["complete"] and result["calls"] >= 3
    assert result["coverage"]["pages"] == [1, 2, 3, 4] and json.loads(out.read_text())["markdown"]


@pytest.mark.slow
def test_unknown_document_is_a_clear_error(tmp_path: Path) -> None:
    done = run_cli("summarize", "nothing.pdf", data_dir=tmp_path / "data")
    assert done.returncode == 1 and "quire docs" in done.stderr
